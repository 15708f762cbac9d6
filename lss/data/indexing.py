"""Index a raw DICOM root once and reuse the manifest until a file under it changes.

Indexing reads every header (~seconds per thousand files); a 40-job sweep over the same root
must pay that once. The cache key is the root's path plus every file's (relative path, size,
mtime) and the labels file's content, which a directory walk gives without opening a file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from lss.data.cache import exclusive_lock, file_digest


def tree_fingerprint(root: Path, labels: Path | None) -> str:
    digest = hashlib.sha256(str(root.resolve()).encode())
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        for name in sorted(files):
            path = Path(directory, name)
            try:
                stat = path.lstat()
            except OSError:
                continue
            digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns};".encode())
    if labels is not None:
        digest.update(file_digest(labels).encode())
    return digest.hexdigest()[:24]


def manifest_for_root(root: Path, index_cache_dir: Path, labels: Path | None, progress: bool = True) -> Path:
    from lss.dicom.index import index_repository  # the DICOM layer, only when a raw root is used

    if not root.is_dir():
        raise FileNotFoundError(f"data.root={root} is not a directory of DICOM files")
    entry = index_cache_dir / tree_fingerprint(root, labels)
    manifest = entry / "manifest.csv"
    if not manifest.exists():
        with exclusive_lock(entry.with_suffix(".lock")):
            if not manifest.exists():
                partial = entry.with_name(entry.name + f".partial-{os.getpid()}")
                index_repository(root, out_dir=partial, labels_csv=labels, progress=progress)
                (partial / "root.txt").write_text(str(root.resolve()))
                os.replace(partial, entry)
    return manifest
