"""RSNA 2024 Lumbar Spine Degenerative Classification -> weak Mid labels and each series' weighting.

Radiologists marked canal stenosis on the mid-sagittal T2/STIR slice and foraminal narrowing on the left
and right sagittal T1 slices (train_label_coordinates.csv), so the marks say where the midline is:

- T2/STIR: the mid slice is the one nearest the median n·p of the series' canal-stenosis marks;
- T1: the one nearest the midpoint between the median n·p of the left and of the right foraminal marks
  (the spine need not lie at the centre of the stack, so the two sides need not be symmetric about it).

A series without the marks its rule needs gets no label and is counted. Marks are matched to files by their
folder (``train_images/<study_id>/<series_id>/``) and the header's InstanceNumber, never by file name or by
assuming that folder names are DICOM UIDs; labels.csv names the series and slice by their real UIDs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lss.dicom.index import read_all_headers
from lss.errors import UserError
from lss.manifest import T1, T2, centre_index
from lss.text import markdown_table

SERIES_FILE, COORDINATES_FILE, IMAGES_FOLDER = (
    "train_series_descriptions.csv",
    "train_label_coordinates.csv",
    "train_images",
)
SERIES_COLUMNS = ("study_id", "series_id", "series_description")
COORDINATE_COLUMNS = ("study_id", "series_id", "instance_number", "condition", "level")
SAGITTAL_T1, SAGITTAL_T2_STIR, AXIAL_T2 = "Sagittal T1", "Sagittal T2/STIR", "Axial T2"
"""The values of series_description."""
CANAL = "Spinal Canal Stenosis"
LEFT_FORAMEN, RIGHT_FORAMEN = "Left Neural Foraminal Narrowing", "Right Neural Foraminal Narrowing"
LABEL_COLUMNS = [
    "series_instance_uid",
    "mid_sop_instance_uid",
    "study_id",
    "series_id",
    "series_description",
    "mid_instance_number",
    "mid_slice_index",
    "n_slices",
]
"""labels.csv: the indexer's per-series columns first, then where the label came from."""
WEIGHTING_COLUMNS = ["series_instance_uid", "modality", "study_id", "series_id", "series_description"]
STATUS_COLUMNS = ["study_id", "series_id", "series_description", "status", "detail"]
LABELLED, MISSING_ANNOTATIONS, MISSING_IMAGES, NOT_SAGITTAL = (
    "labelled",
    "missing_annotations",
    "missing_images",
    "not_sagittal",
)


@dataclass(frozen=True)
class MidRule:
    """A description's weighting and the marks that place its mid slice: the mean of their per-condition medians.

    One condition (canal) gives its median; two (left, right foramina) give the midpoint of the two medians.
    """

    modality: str
    conditions: tuple[str, ...]

    def target_mm(self, locations: pd.DataFrame) -> float | str:
        """The n·p to centre on, or a reason (str) why the marks do not give one."""
        medians = []
        for condition in self.conditions:
            found = locations.loc[locations["condition"] == condition, "location_mm"].dropna()
            if found.empty:
                return f"no {condition} mark on an indexed instance"
            medians.append(float(found.median()))
        return float(np.mean(medians))


RULES: dict[str, MidRule] = {
    SAGITTAL_T2_STIR: MidRule(T2, (CANAL,)),
    SAGITTAL_T1: MidRule(T1, (LEFT_FORAMEN, RIGHT_FORAMEN)),
}
"""series_description -> how its mid slice is found; other descriptions (AXIAL_T2) are not labelled."""


@dataclass(frozen=True)
class RsnaLabels:
    """labels.csv, weighting.csv and series_status.csv (one row per series of the descriptions CSV)."""

    labels: pd.DataFrame
    weighting: pd.DataFrame
    status: pd.DataFrame
    unmatched_marks: int

    def write(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.labels.to_csv(out_dir / "labels.csv", index=False)
        self.weighting.to_csv(out_dir / "weighting.csv", index=False)
        self.status.to_csv(out_dir / "series_status.csv", index=False)

    def summary(self) -> str:
        counts = self.status.groupby(["series_description", "status"]).size().unstack(fill_value=0)
        table = markdown_table(
            ["series_description", *counts.columns],
            [[description, *row] for description, row in zip(counts.index, counts.values.tolist())],
        )
        labelled = self.labels
        at_centre = int((labelled["mid_slice_index"] == labelled["n_slices"].map(centre_index)).sum())
        return (
            f"{table}\n\n{len(labelled):,} series labelled; the mid slice is the stack's centre slice in "
            f"{at_centre:,} of them (what the centre rule assumes). {self.unmatched_marks:,} sagittal marks "
            "match no readable instance of their series folder.\n"
        )


def rsna2024_labels(root: Path, workers: int | None = None, progress: bool = True) -> RsnaLabels:
    """Read the competition's CSVs and the headers of the sagittal series they describe; label what the marks allow."""
    root = Path(root)
    series = _read_csv(root / SERIES_FILE, SERIES_COLUMNS)
    marks = _read_csv(root / COORDINATES_FILE, COORDINATE_COLUMNS)
    images = root / IMAGES_FOLDER
    if not images.is_dir():
        raise UserError(f"{images} is not a folder; point --root at the RSNA 2024 data (train_images/, {SERIES_FILE})")
    sagittal = series[series["series_description"].isin(RULES)]
    folders = {(row.study_id, row.series_id): images / row.study_id / row.series_id for row in sagittal.itertuples()}
    files = [
        path for folder in folders.values() if folder.is_dir() for path in sorted(folder.iterdir()) if path.is_file()
    ]
    headers, skips = read_all_headers(files, images, workers=workers, progress=progress)
    slices = pd.DataFrame(
        [
            {
                "study_id": Path(header.path).parts[0],
                "series_id": Path(header.path).parts[1],
                "instance_number": header.instance_number,
                "series_instance_uid": header.series_uid,
                "sop_instance_uid": header.sop_uid,
                "location_mm": header.location_mm,
            }
            for header in headers
            if header.instance_number is not None and header.frame == 0
        ],
        columns=["study_id", "series_id", "instance_number", "series_instance_uid", "sop_instance_uid", "location_mm"],
    ).drop_duplicates(["study_id", "series_id", "instance_number"])
    numbers = pd.to_numeric(marks["instance_number"], errors="coerce")
    marks["instance_number"] = numbers.where(numbers % 1 == 0).astype("Int64")  # "5", "5.0"; else no match
    slices["instance_number"] = slices["instance_number"].astype("Int64")
    located = marks.merge(slices, on=["study_id", "series_id", "instance_number"], how="left")
    in_sagittal = located.set_index(["study_id", "series_id"]).index.isin(list(folders))
    unmatched = int((in_sagittal & located["location_mm"].isna().to_numpy()).sum())
    skipped_by_folder = pd.Series([str(Path(skip.path).parent) for skip in skips], dtype=str).value_counts()
    slices_by_series = dict(list(slices.groupby(["study_id", "series_id"])))
    marks_by_series = dict(list(located.groupby(["study_id", "series_id"])))
    labels, weighting, status = [], [], []
    for row in series.itertuples():
        key = (row.study_id, row.series_id)
        identity = {"study_id": row.study_id, "series_id": row.series_id, "series_description": row.series_description}
        rule = RULES.get(row.series_description)
        if rule is None:
            status.append({**identity, "status": NOT_SAGITTAL, "detail": "not a sagittal description"})
            continue
        series_slices = slices_by_series.get(key)
        if series_slices is None:
            skipped = skipped_by_folder.get(f"{row.study_id}/{row.series_id}", 0)
            detail = f"{skipped} files skipped by the indexer" if folders[key].is_dir() else "folder absent"
            status.append({**identity, "status": MISSING_IMAGES, "detail": detail})
            continue
        weighting += [
            {"series_instance_uid": uid, "modality": rule.modality, **identity}
            for uid in sorted(series_slices["series_instance_uid"].unique())
        ]
        target = rule.target_mm(marks_by_series.get(key, located.iloc[:0]))
        if isinstance(target, str):
            status.append({**identity, "status": MISSING_ANNOTATIONS, "detail": target})
            continue
        ordered = series_slices.sort_values("location_mm", ignore_index=True)
        mid = int(np.argmin(np.abs(ordered["location_mm"].to_numpy() - target)))
        labels.append(
            {
                "series_instance_uid": ordered.loc[mid, "series_instance_uid"],
                "mid_sop_instance_uid": ordered.loc[mid, "sop_instance_uid"],
                **identity,
                "mid_instance_number": int(ordered.loc[mid, "instance_number"]),
                "mid_slice_index": mid,
                "n_slices": len(ordered),
            }
        )
        status.append({**identity, "status": LABELLED, "detail": f"n·p {target:.2f} mm"})
    return RsnaLabels(
        pd.DataFrame(labels, columns=LABEL_COLUMNS),
        pd.DataFrame(weighting, columns=WEIGHTING_COLUMNS),
        pd.DataFrame(status, columns=STATUS_COLUMNS),
        unmatched,
    )


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """A competition CSV as strings (ids stay exactly as the folder names spell them), refusing missing columns."""
    if not path.is_file():
        raise UserError(f"{path} does not exist; point --root at the RSNA 2024 data folder that holds {path.name}")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [column for column in columns if column not in table.columns]
    if missing:
        expected = ", ".join(columns)
        raise UserError(f"{path} lacks column(s) {missing}; expected {expected} (found {list(table.columns)})")
    return table.apply(lambda column: column.str.strip())
