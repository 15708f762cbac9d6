"""Index a raw DICOM root once and reuse the manifest until a file under it changes.

Indexing reads every header (~seconds per thousand files); a 40-job sweep over the same root
must pay that once. The key is lss.files.tree_key (shared with the image cache) over every file
under the root (relative path and content), the labels and weighting files, and the indexer's
version and parameters; the entry (manifest.csv, skipped.csv, label_findings.csv, summary.md)
is a lss.files.verified_entry, checked on every read.
"""

from __future__ import annotations

from pathlib import Path

from lss.dicom.index import index_repository
from lss.dicom.index_params import IndexParams
from lss.dicom.walk import walk_repository
from lss.files import file_digest, tree_key, verified_entry


def index_cache_key(
    root: Path, labels: Path | None, params: IndexParams, memo_dir: Path, weighting: Path | None = None
) -> str:
    """tree_key of the files under ``root``; the (small) labels and weighting CSVs are hashed on every call."""
    files, _ = walk_repository(root)
    csvs = "".join(
        f"|{given}:{file_digest(csv)}" for given, csv in (("labels", labels), ("weighting", weighting)) if csv
    )
    named = [(path.relative_to(root).as_posix(), path) for path in files]
    return tree_key(named, f"{root.resolve()}|{params.as_key()}{csvs}", memo_dir)[:24]


def indexed_manifest(
    root: Path,
    index_cache_dir: Path,
    labels: Path | None,
    params: IndexParams,
    progress: bool = True,
    weighting: Path | None = None,
) -> Path:
    """manifest.csv of ``root`` (paths relative to it), indexed now or taken from the cache."""
    entry = index_cache_dir / index_cache_key(root, labels, params, index_cache_dir / "keys", weighting)

    def index_into(partial: Path) -> None:
        index_repository(
            root, out_dir=partial, labels_csv=labels, weighting_csv=weighting, params=params, progress=progress
        )

    verified_entry(entry, index_into)
    return entry / "manifest.csv"
