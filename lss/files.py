"""File plumbing shared by the caches: content digests, an exclusive lock, build-once-then-publish.

Parallel jobs of a sweep build the same cache entry at the same moment; each entry is built once
under a lock into a private partial path and published with an atomic rename, so no job ever
reads half an entry.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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
    """A sibling only this process writes to (the suffix is kept: numpy appends .npy otherwise)."""
    return path.with_name(f"{path.stem}.partial-{os.getpid()}{path.suffix}")


def publish(partial: Path, path: Path) -> None:
    """Atomically move a finished file or folder into place."""
    os.replace(partial, path)


def build_once(path: Path, build: Callable[[Path], None]) -> Path:
    """``build(partial)`` writes the entry; done at most once across processes, then published at ``path``."""
    if not path.exists():
        with exclusive_lock(path.with_name(path.name + ".lock")):
            if not path.exists():  # another process may have built it while we waited
                partial = partial_path(path)
                build(partial)
                publish(partial, path)
    return path
