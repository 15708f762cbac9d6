"""Index a raw DICOM root once and reuse the manifest until a file under it changes.

Indexing reads every header (~seconds per thousand files); a 40-job sweep over the same root
must pay that once. The key is lss.files.tree_key (shared with the image cache) over every file
under the root (relative path and content), the labels and weighting files, and the indexer's
version and parameters; the entry (manifest.csv, skipped.csv, label_findings.csv, summary.md)
is a lss.files.verified_entry, checked on every read. A PACS's manifest is keyed by its DICOMweb metadata.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from lss.dicom.dicomweb import DicomWebSource, study_metadata
from lss.dicom.index import index_dicomweb, index_repository
from lss.dicom.index_params import IndexParams
from lss.dicom.walk import walk_repository
from lss.files import file_digest, tree_key, verified_entry


def index_cache_key(
    root: Path, labels: Path | None, params: IndexParams, memo_dir: Path, weighting: Path | None = None
) -> str:
    """tree_key of the files under ``root``; the (small) labels and weighting CSVs are hashed on every call."""
    files, _ = walk_repository(root)
    named = [(path.relative_to(root).as_posix(), path) for path in files]
    return tree_key(named, f"{root.resolve()}|{params.as_key()}{_tables_key(labels, weighting)}", memo_dir)[:24]


def _tables_key(labels: Path | None, weighting: Path | None) -> str:
    return "".join(
        f"|{given}:{file_digest(csv)}" for given, csv in (("labels", labels), ("weighting", weighting)) if csv
    )


def indexed_manifest(
    repository: Path | DicomWebSource,
    index_cache_dir: Path,
    labels: Path | None,
    params: IndexParams,
    progress: bool = True,
    weighting: Path | None = None,
) -> Path:
    """manifest.csv of a folder (paths relative to it) or of every study of a PACS (paths relative to its DICOMweb
    root), indexed now or taken from the cache. A PACS's metadata is read on each call (it is small) and keys the
    entry, so its manifest is rebuilt only when an instance's header changes."""
    if isinstance(repository, DicomWebSource):
        instances = study_metadata(repository)
        content = hashlib.blake2b(f"{repository.http_url}|{params.as_key()}{_tables_key(labels, weighting)}|".encode())
        content.update(json.dumps(instances, sort_keys=True).encode())
        entry = index_cache_dir / f"dicomweb-{content.hexdigest()[:24]}"
    else:
        entry = index_cache_dir / index_cache_key(repository, labels, params, index_cache_dir / "keys", weighting)

    def index_into(partial: Path) -> None:
        if isinstance(repository, DicomWebSource):
            index_dicomweb(instances, partial, labels, weighting, params, progress)
        else:
            index_repository(repository, partial, labels, weighting, params, progress=progress)

    verified_entry(entry, index_into)
    return entry / "manifest.csv"
