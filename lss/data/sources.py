"""Several DICOM sources in one run: ``data.root``, ``data.labels`` and ``data.weighting`` as lists.

A user's own labelled series and a public set train together without copying files into one folder:
each root (a folder or a DICOMweb service) is indexed on its own (and cached on its own), and the
manifests are stacked with a ``source`` column naming where each series came from. Paths stay relative
to their own root; ``roots`` maps a source name back to it. Splits by patient then span all sources,
and a run reports its test metrics per source as well as over all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lss.dicom.dicomweb import DicomWebSource, is_dicomweb
from lss.errors import ConfigError
from lss.manifest import SOURCE


@dataclass(frozen=True)
class DataSource:
    """One root with its own labels and weighting CSVs, and the name its series carry in the ``source`` column."""

    name: str
    root: str
    labels: Path | None
    weighting: Path | None

    @property
    def pacs(self) -> DicomWebSource | None:
        return DicomWebSource(self.root) if is_dicomweb(self.root) else None


def as_list(value: str | Sequence[str | None] | None) -> list[str | None]:
    """One value (today's single root) or a list (a Hydra list), as a list."""
    if value is None or isinstance(value, str | Path):
        return [None if value is None else str(value)]
    return [None if item is None else str(item) for item in value]


def source_name(root: str) -> str:
    """What a source is called in metrics and the manifest: the folder's name, or the PACS's host/port/path."""
    raw = DicomWebSource(root).folder_name if is_dicomweb(root) else Path(root).expanduser().resolve().name
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", raw) or "root"


def data_sources(
    root: str | Sequence[str | None] | None,
    labels: str | Sequence[str | None] | None,
    weighting: str | Sequence[str | None] | None,
) -> list[DataSource]:
    """The sources a run reads: one per root; a single labels/weighting value applies to every root, a list gives
    one per root (``null`` for none). Names are unique (a second root of the same name gets ``-2``)."""
    roots = as_list(root)
    if not roots or any(item is None for item in roots):
        raise ConfigError("data.root is not set; point it at the DICOM repository (data.root=/path/to/dicom)")
    per_root = {key: _per_root(key, value, len(roots)) for key, value in (("labels", labels), ("weighting", weighting))}
    sources: list[DataSource] = []
    for location, label_file, weighting_file in zip(roots, per_root["labels"], per_root["weighting"], strict=True):
        base = name = source_name(str(location))
        count = 1
        while name in {source.name for source in sources}:
            count += 1
            name = f"{base}-{count}"
        sources.append(
            DataSource(
                name,
                str(location),
                Path(label_file) if label_file is not None else None,
                Path(weighting_file) if weighting_file is not None else None,
            )
        )
    return sources


def _per_root(key: str, value: str | Sequence[str | None] | None, n_roots: int) -> list[str | None]:
    if value is None or isinstance(value, str | Path):
        return [None if value is None else str(value)] * n_roots
    values = as_list(value)
    if len(values) != n_roots:
        raise ConfigError(
            f"data.{key} lists {len(values)} files for {n_roots} data.root entries; give one per root "
            f"(null where a root has none) or a single file for all of them"
        )
    return values


def check_sources_exist(sources: Sequence[DataSource]) -> None:
    """Refuse, before anything runs, a root, labels or weighting file that is not there (one line naming it)."""
    for source in sources:
        if source.pacs is None and not Path(source.root).exists():
            raise ConfigError(f"data.root={source.root} does not exist; point data.root at an existing folder")
        for key, path in (("labels", source.labels), ("weighting", source.weighting)):
            if path is not None and not path.exists():
                raise ConfigError(f"data.{key}={path} does not exist; point data.{key} at an existing path")


def stacked_manifests(manifests: Sequence[tuple[DataSource, pd.DataFrame]]) -> pd.DataFrame:
    """The sources' manifests as one table with a ``source`` column; a SOP Instance UID in two sources is refused
    (the same image twice could fall into train and test)."""
    stacked = pd.concat([manifest.assign(**{SOURCE: source.name}) for source, manifest in manifests], ignore_index=True)
    if len(manifests) > 1:
        owners = stacked.groupby("sop_uid", sort=False)[SOURCE].nunique()
        shared = owners[owners > 1]
        if len(shared):
            names = sorted(set(stacked.loc[stacked["sop_uid"].isin(shared.index), SOURCE]))
            raise ConfigError(
                f"{len(shared)} SOP Instance UIDs occur in more than one of data.root ({', '.join(names)}), "
                f"e.g. {shared.index[0]}: the same images twice; drop one copy from data.root"
            )
    return stacked
