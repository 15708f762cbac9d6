"""index_repository: DICOM repository (and sagittal volumes) -> manifest.csv (one row per sagittal slice),
skipped.csv, summary.md."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from lss.dicom.index_params import IndexParams
from lss.dicom.privacy import load_patient_secret
from lss.dicom.series import assemble_series, drop_duplicate_instances
from lss.dicom.skips import Skip
from lss.dicom.walk import walk_repository
from lss.dicom.weighting import WeightingTable, apply_weighting_table, map_stir, read_weighting_csv
from lss.manifest import COLUMNS, SERIES_COLUMNS, SKIPPED_COLUMNS, write_manifest
from lss.workers import process_pool, worker_count

if TYPE_CHECKING:
    import pandas as pd

    from lss.dicom.headers import SliceHeader

FILES_PER_WORKER = 500
"""Fewer files than this per process and starting the process costs more than it saves (benchmarks/index_speed.py)."""
_CHUNK_SIZE = 64


@dataclass
class IndexResult:
    """What index_repository found; the same tables it writes to out_dir."""

    manifest: pd.DataFrame
    skipped: pd.DataFrame
    summary_markdown: str
    label_findings: pd.DataFrame


def index_repository(
    root: Path,
    out_dir: Path | None = None,
    labels_csv: Path | None = None,
    weighting_csv: Path | None = None,
    params: IndexParams = IndexParams(),
    workers: int | None = None,
    progress: bool = True,
    montage: bool = False,
) -> IndexResult:
    """Index every file under root exactly once: a manifest row per sagittal slice, or a skipped row saying why.

    Reads headers only and never writes under root (out_dir inside root is excluded from the walk).
    A weighting CSV (series_instance_uid, modality) overrides the weighting the headers or file names give.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"--root {root} is not a directory")
    tables = IndexTables.read(labels_csv, weighting_csv, params)
    files, skips = walk_repository(root, exclude=out_dir)
    headers, read_skips = read_all_headers(files, root, workers=workers, progress=progress, meanwhile=import_tables)
    result = tables.index(headers, skips + read_skips)
    if out_dir is not None:
        write_index(result, Path(out_dir), root if montage else None)
    return result


def index_dicomweb(
    instances: list[dict[str, Any]],
    out_dir: Path | None = None,
    labels_csv: Path | None = None,
    weighting_csv: Path | None = None,
    params: IndexParams = IndexParams(),
    progress: bool = True,
) -> IndexResult:
    """As index_repository, for the DICOMweb metadata of a PACS's instances (lss.dicom.dicomweb.study_metadata):
    every instance once, paths relative to the service root. Metadata only: no pixel data is transferred."""
    from lss.dicom.dicomweb import instance_path, metadata_dataset
    from lss.dicom.headers import read_metadata_headers

    tables = IndexTables.read(labels_csv, weighting_csv, params)
    secret = load_patient_secret()
    headers: list[SliceHeader] = []
    skips: list[Skip] = []
    for instance in tqdm(instances, unit="instance", desc="reading metadata", disable=not progress):
        dataset, has_pixel_data = metadata_dataset(instance)
        found = read_metadata_headers(dataset, has_pixel_data, instance_path(instance), secret)
        if isinstance(found, Skip):
            skips.append(found)
        else:
            headers += found
    result = tables.index(headers, skips)
    if out_dir is not None:
        write_index(result, Path(out_dir))
    return result


@dataclass(frozen=True)
class IndexTables:
    """The labels and weighting tables an index applies to the headers it read, wherever it read them."""

    labels: pd.DataFrame | None
    weighting: WeightingTable | None
    params: IndexParams

    @classmethod
    def read(cls, labels_csv: Path | None, weighting_csv: Path | None, params: IndexParams) -> IndexTables:
        """Read before any header: a bad labels or weighting file stops the index at once."""
        labels = None
        if labels_csv is not None:
            from lss.dicom.labels import read_labels_csv

            labels = read_labels_csv(Path(labels_csv))
        weighting = read_weighting_csv(Path(weighting_csv)) if weighting_csv is not None else None
        return cls(labels, weighting, params)

    def index(self, headers: list[SliceHeader], skips: list[Skip]) -> IndexResult:
        """Series, weighting and labels of the headers: the manifest, skipped rows and summary."""
        import pandas as pd

        from lss.dicom.labels import label_slices, validate_labels
        from lss.dicom.summary import summarize

        labels, weighting, params = self.labels, self.weighting, self.params
        headers, duplicate_skips = drop_duplicate_instances(headers)
        rows, series_skips = assemble_series(headers)
        manifest = pd.DataFrame(rows, columns=list(SERIES_COLUMNS))
        manifest = map_stir(manifest, params.stir_as)
        if weighting is not None:
            manifest = apply_weighting_table(manifest, weighting)
        manifest = label_slices(manifest, labels, params.band_size)
        manifest = manifest[list(COLUMNS)].sort_values(["series_uid", "slice_index"], ignore_index=True)
        findings = validate_labels(manifest, labels, params.ivd_width_mm)
        skipped = pd.DataFrame([vars(skip) for skip in skips + duplicate_skips + series_skips], columns=SKIPPED_COLUMNS)
        skipped = skipped.sort_values("path", ignore_index=True)
        return IndexResult(manifest, skipped, summarize(manifest, skipped, findings, weighting), findings)


def import_tables() -> None:
    """Import pandas and the table-building modules of the index (a start-up cost). index_repository does this
    in the main process while the workers read headers, so a whole lss-index process does not spend it first."""
    from lss.dicom import labels, summary  # noqa: F401  # loaded for their import time; index_repository uses them


def read_all_headers(
    files: list[Path],
    root: Path,
    workers: int | None = None,
    progress: bool = True,
    meanwhile: Callable[[], None] = lambda: None,
) -> tuple[list[SliceHeader], list[Skip]]:
    """Header records of all files, in worker processes when there are enough files to pay for them; ``meanwhile``
    runs in this process once the workers have their files."""
    if not files:
        return [], []
    from lss.dicom.headers import read_slice_headers  # pydicom: only once there are files to read

    read_one = partial(read_slice_headers, root=root, secret=load_patient_secret())
    n_workers = workers if workers is not None else worker_count(len(files), tasks_per_worker=FILES_PER_WORKER)
    bar = partial(tqdm, total=len(files), unit="file", desc="reading headers", disable=not progress)
    if n_workers <= 1:
        results = list(bar(map(read_one, files)))
    else:
        with process_pool(n_workers) as pool:
            pending = pool.map(read_one, files, chunksize=_CHUNK_SIZE)  # every chunk is submitted here
            meanwhile()
            results = list(bar(pending))
    headers = [header for result in results if not isinstance(result, Skip) for header in result]
    return headers, [result for result in results if isinstance(result, Skip)]


def write_index(result: IndexResult, out_dir: Path, montage_root: Path | None = None) -> None:
    """manifest.csv, skipped.csv, label_findings.csv, summary.md, and montages/<series_uid>.png when asked."""
    from lss.dicom.labels import FINDING_COLUMNS

    out_dir.mkdir(parents=True, exist_ok=True)
    write_manifest(result.manifest, out_dir / "manifest.csv")
    result.skipped.to_csv(out_dir / "skipped.csv", index=False)
    result.label_findings.to_csv(out_dir / "label_findings.csv", index=False, columns=FINDING_COLUMNS)
    (out_dir / "summary.md").write_text(result.summary_markdown)
    if montage_root is not None:
        from lss.dicom.montage import write_series_montage  # matplotlib: only when montages are asked for

        for series_uid, series_rows in result.manifest.groupby("series_uid"):
            write_series_montage(series_rows, montage_root, out_dir / "montages" / f"{series_uid}.png")
