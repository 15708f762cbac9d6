"""File plumbing shared by the caches: one content key for a set of files, verified entries, build-once-then-publish.

Parallel jobs of a sweep build the same cache entry at the same moment; each entry is built once
under a lock into a private partial path and published with an atomic rename, so no job ever
reads half an entry. Every entry carries a check record (each file's size and CRC-32, written
beside it before it is published) that is compared on every read: an entry that is not what was
written (a flipped byte, a truncation, an edit) is rebuilt with one warning, never used.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
CHECK_SUFFIX = ".check.json"
"""Beside each entry: {file inside the entry ("." for a file entry): [size, CRC-32]}."""
_HOST = re.sub(r"[^A-Za-z0-9-]", "", socket.gethostname().split(".")[0]) or "host"
_PARTIAL = re.compile(r"\.partial-(\d+)(?:-([A-Za-z0-9-]+))?")
"""<pid>-<host> of a partial's name; partials of lss before 2026-11-30 name no host (taken as this host's)."""


def file_digest(path: Path) -> str:
    """blake2b of the content: a key two different files must never share."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_crc32(path: Path) -> int:
    """CRC-32 of the content: catches any accidental change (every burst up to 32 bits, others but 1 in 2^32)
    several times faster than blake2b, which matters because it runs on every read of an image cache."""
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def _stat_text(path: Path) -> str:
    """size, mtime, ctime and inode: what changes when a file is rewritten, replaced or moved (ctime cannot be set
    back by a user). A broken symlink or unreadable file is described by what lstat says, or as missing."""
    for stat in (os.stat, os.lstat):
        try:
            found = stat(path)
            return f"{found.st_size}|{found.st_mtime_ns}|{found.st_ctime_ns}|{found.st_ino}"
        except OSError:
            continue
    return "missing"


def _content_text(path: Path) -> str:
    try:
        return file_digest(path)
    except OSError as error:  # a broken symlink or an unreadable file: the indexer skips it, the key notes it
        return f"unreadable:{error.errno}"


def tree_key(files: Sequence[tuple[str, Path]], salt: str, memo_dir: Path) -> str:
    """The one invalidation rule of every cache: a key of ``salt`` and each (name, file)'s name and *content*.

    Hashing the content of a whole repository costs seconds, so the key is remembered in ``memo_dir`` under
    the files' stat signature (path, size, mtime, ctime, inode): a job whose files are untouched only stats
    them, and a file rewritten with its mtime restored still changes the signature (its ctime), so it is
    re-hashed. Touching files without changing them costs one re-hash and gives the same key.
    """
    signature = hashlib.blake2b(salt.encode(), digest_size=16)
    for name, path in files:
        signature.update(f"{name}|{os.path.abspath(path)}|{_stat_text(path)};".encode())
    memo = memo_dir / f"{signature.hexdigest()}.txt"
    if (remembered := _read_memo(memo)) is not None:
        return remembered
    content = hashlib.blake2b(salt.encode(), digest_size=16)
    for name, path in files:
        content.update(f"{name}|{_content_text(path)};".encode())
    key = content.hexdigest()
    memo.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_partials(memo.parent)
    partial = partial_path(memo)
    partial.write_text(f"{key} {zlib.crc32(key.encode()):08x}")
    publish(partial, memo)
    return key


def _read_memo(memo: Path) -> str | None:
    """The remembered key, None when there is none or the memo is not what was written."""
    try:
        key, crc = memo.read_text().split(" ")
    except (OSError, ValueError):
        return None
    return key if f"{zlib.crc32(key.encode()):08x}" == crc else None


@contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def partial_path(path: Path) -> Path:
    """A sibling only this process writes to (the suffix is kept: numpy appends .npy otherwise).

    Its name carries the process id and host, so a partial left by a process that died can be recognised."""
    return path.with_name(f"{path.stem}.partial-{os.getpid()}-{_HOST}{path.suffix}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_dead_partials(folder: Path) -> list[Path]:
    """Remove the partial files and folders in ``folder`` whose writer (a process of this host) is gone."""
    removed = []
    for path in folder.glob("*.partial-*"):
        match = _PARTIAL.search(path.name)
        if match and match.group(2) in (_HOST, None) and not _is_alive(int(match.group(1))):
            _remove(path)
            removed.append(path)
    return removed


def publish(partial: Path, path: Path) -> None:
    """Atomically move a finished file or folder into place."""
    os.replace(partial, path)


def check_path(entry: Path) -> Path:
    return entry.with_name(entry.name + CHECK_SUFFIX)


def content_record(entry: Path) -> dict[str, list[int]]:
    """Size and CRC-32 of the entry's file, or of every file in the entry's folder."""
    files = sorted(path for path in entry.rglob("*") if path.is_file()) if entry.is_dir() else [entry]
    return {path.relative_to(entry).as_posix(): [path.stat().st_size, file_crc32(path)] for path in files}


def entry_problem(entry: Path) -> str | None:
    """Why ``entry`` is not what was written (in words), None when every file has its recorded size and CRC-32."""
    try:
        recorded = json.loads(check_path(entry).read_text())
    except FileNotFoundError:
        return "its check record is missing"
    except ValueError:
        return "its check record is unreadable"
    files = sorted(path for path in entry.rglob("*") if path.is_file()) if entry.is_dir() else [entry]
    found = {path.relative_to(entry).as_posix(): path for path in files}
    if sorted(found) != sorted(recorded):
        return f"it holds {sorted(found)}, written with {sorted(recorded)}"
    for name, (size, _) in recorded.items():
        if (actual := found[name].stat().st_size) != size:
            return f"{name} has {actual} bytes, written with {size}"
    for name, (_, crc) in recorded.items():
        if file_crc32(found[name]) != crc:
            return f"{name} has the written size but other bytes (CRC-32 differs)"
    return None


def verified_entry(path: Path, build: Callable[[Path], None]) -> Path:
    """``build(partial)`` writes the entry; built at most once across processes and published at ``path`` with its
    check record. Every call checks the entry against that record; a bad entry is rebuilt with one warning."""
    if path.exists() and entry_problem(path) is None:
        return path
    with exclusive_lock(path.with_name(path.name + ".lock")):
        remove_dead_partials(path.parent)
        if path.exists():  # another process may have built (or rebuilt) it while we waited
            problem = entry_problem(path)
            if problem is None:
                return path
            log.warning("cache entry %s is not what was written (%s); rebuilding it", path, problem)
            _remove(path)
        partial = partial_path(path)
        record = partial_path(check_path(path))
        try:
            build(partial)
            record.write_text(json.dumps(content_record(partial)))
            publish(record, check_path(path))
            publish(partial, path)
        except BaseException:  # a failed or interrupted build leaves nothing behind
            _remove(partial)
            _remove(record)
            raise
    return path
