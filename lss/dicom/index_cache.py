"""Index a raw DICOM root once and reuse the manifest until a file under it changes.

Indexing reads every header (~seconds per thousand files); a 40-job sweep over the same root
must pay that once. The cache key is the root's path plus every file's (relative path, size,
mtime), the content of the labels and weighting files and the indexer's version and parameters,
which a directory walk gives without opening a DICOM file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from lss.dicom.index import index_repository
from lss.dicom.index_params import IndexParams
from lss.files import build_once, file_digest


def tree_fingerprint(root: Path, labels: Path | None, params: IndexParams, weighting: Path | None = None) -> str:
    digest = hashlib.sha256(f"{root.resolve()}|{params.as_key()}".encode())
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        for name in sorted(files):
            path = Path(directory, name)
            try:
                stat = path.lstat()
            except OSError:
                continue
            digest.update(f"{path.relative_to(root)}|{stat.st_size}|{stat.st_mtime_ns};".encode())
    for given, csv in (("labels", labels), ("weighting", weighting)):
        if csv is not None:
            digest.update(f"{given}:{file_digest(csv)}".encode())
    return digest.hexdigest()[:24]


def indexed_manifest(
    root: Path,
    index_cache_dir: Path,
    labels: Path | None,
    params: IndexParams,
    progress: bool = True,
    weighting: Path | None = None,
) -> Path:
    """manifest.csv of ``root`` (paths relative to it), indexed now or taken from the cache."""
    entry = index_cache_dir / tree_fingerprint(root, labels, params, weighting)

    def index_into(partial: Path) -> None:
        index_repository(
            root, out_dir=partial, labels_csv=labels, weighting_csv=weighting, params=params, progress=progress
        )

    build_once(entry, index_into)
    return entry / "manifest.csv"
