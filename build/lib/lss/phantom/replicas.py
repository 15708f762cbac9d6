"""Small replicas of the public lumbar datasets, written from phantom patients: their layouts, not their images.

RSNA 2024, SPIDER and the paper's Mendeley set cannot be downloaded here, so their adapters
(lss/datasets, lss/dicom/volumes.py) are tested on replicas that follow each dataset's documented
layout, with annotations placed where a radiologist would put them on the phantom's truth:

- RSNA 2024: ``train_images/<study_id>/<series_id>/<InstanceNumber>.dcm`` (numeric folder names that are
  not the DICOM UIDs), ``train_series_descriptions.csv``, ``train_label_coordinates.csv``;
- SPIDER: ``images/<patient>_t1.mha``, ``_t2.mha``, ``_t2_SPACE.mha`` sagittal volumes and ``masks/`` of the
  same names (vertebrae, canal 100, discs), in several voxel-axis orders;
- Mendeley: per-patient folders of Siemens-style ``.ima`` files (some upper case, some without extension)
  holding sagittal T1, sagittal T2 and axial series, with no labels.

Each writer returns the slice the annotations point at per sagittal series (``expected``), so a test
can check that the adapter's labels land there.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import SimpleITK as sitk

from lss.datasets.rsna2024 import (
    AXIAL_T2,
    CANAL,
    COORDINATES_FILE,
    IMAGES_FOLDER,
    LEFT_FORAMEN,
    RIGHT_FORAMEN,
    SAGITTAL_T1,
    SAGITTAL_T2_STIR,
    SERIES_FILE,
)
from lss.dicom.volumes import volume_series_uid, volume_sop_uid
from lss.phantom import protocol
from lss.phantom.anatomy import (
    draw_image_frame,
    draw_patient_anatomy,
    render_label_mask,
    render_sagittal_stack,
)
from lss.phantom.geometry import draw_sagittal_stack, stack_orientation
from lss.phantom.writer import write_phantom

EXPECTED_COLUMNS = ["series_instance_uid", "mid_sop_instance_uid", "centred"]
RSNA_LEVELS = ("L1/L2", "L2/L3", "L3/L4", "L4/L5", "L5/S1")
LEFT_SUBARTICULAR = "Left Subarticular Stenosis"
"""Marked on axial series, which the adapter does not read."""

CANAL_OFFSETS = (0, 0, 1, 0, -1)
"""Slices (from the mid slice) on which the replica's radiologist marks canal stenosis at L1/L2 … L5/S1."""
LEFT_FORAMEN_OFFSETS = (-3, -3, -4, -3, -2)
RIGHT_FORAMEN_OFFSETS = (3, 4, 3)
"""Foramina lie about 12 mm either side of the midline; the right side is marked at 3 levels only, so the
median of all foraminal marks lies off the mid slice while the midpoint of the two sides does not."""
SPIDER_ROWS = 160
"""In-plane matrix of the SPIDER replica (1.75 mm pixels): small volumes, fast tests."""
SPACE_SPACING_MM = 2.0
"""Slice spacing of the replica's 3-D T2 SPACE volumes (the 2-D T1 / T2 use Table 1 spacings)."""


@dataclass(frozen=True)
class Replica:
    """Where the replica lies and the mid slice its annotations (or the phantom's truth) point at per series."""

    root: Path
    expected: pd.DataFrame


def write_rsna2024_replica(out_dir: Path, n_studies: int, seed: int) -> Replica:
    """RSNA 2024 layout from ``n_studies`` phantom patients; the last study has no annotations at all.

    The first study's T2 is a STIR: its headers (TE 25 ms, "stir_sag") make the header rule say unknown,
    while train_series_descriptions.csv says "Sagittal T2/STIR".
    """
    out_dir = _empty_folder(out_dir)
    rng = np.random.default_rng([seed, 2024])
    series_rows: list[dict[str, object]] = []
    coordinates: list[dict[str, object]] = []
    expected: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as scratch:
        phantom = write_phantom(Path(scratch) / "phantom", n_studies, seed)
        truth = phantom.series_truth.set_index("series_instance_uid")
        headers = _phantom_headers(phantom.out_dir)
        for study_number, study in enumerate(headers.groupby("study", sort=False)):
            study_id, annotated = 4_000_000 + 1013 * (study_number + 1), study_number < n_studies - 1
            for series_uid, series in study[1].groupby("series", sort=False):
                series_id = int(rng.integers(10**8, 10**9))
                description = _rsna_description(series["description"].iloc[0])
                folder = out_dir / IMAGES_FOLDER / str(study_id) / str(series_id)
                folder.mkdir(parents=True)
                for path, instance in zip(series["path"], series["instance"]):
                    dataset = pydicom.dcmread(path)
                    if study_number == 0 and description == SAGITTAL_T2_STIR:  # a STIR
                        dataset.EchoTime, dataset.SeriesDescription = 25.0, "stir_sag"
                    dataset.save_as(folder / f"{instance}.dcm", enforce_file_format=True)
                series_rows.append({"study_id": study_id, "series_id": series_id, "series_description": description})
                if description == AXIAL_T2:
                    if annotated:
                        coordinates += _marks(study_id, series_id, LEFT_SUBARTICULAR, [2, 3], RSNA_LEVELS[3:])
                    continue
                mid_uid = str(truth.loc[series_uid, "mid_sop_instance_uid"])
                mid = int(series.set_index("sop").loc[mid_uid, "instance"])
                centred = bool(truth.loc[series_uid, "centred"])
                expected.append(
                    {
                        "series_instance_uid": series_uid,
                        "mid_sop_instance_uid": mid_uid if annotated else "",
                        "centred": centred,
                    }
                )
                if not annotated:
                    continue
                if description == SAGITTAL_T1:
                    coordinates += _marks(study_id, series_id, LEFT_FORAMEN, _around(mid, LEFT_FORAMEN_OFFSETS))
                    right = _around(mid, RIGHT_FORAMEN_OFFSETS)
                    coordinates += _marks(study_id, series_id, RIGHT_FORAMEN, right, RSNA_LEVELS[2:])
                else:
                    coordinates += _marks(study_id, series_id, CANAL, _around(mid, CANAL_OFFSETS))
    pd.DataFrame(series_rows).to_csv(out_dir / SERIES_FILE, index=False)
    pd.DataFrame(coordinates).to_csv(out_dir / COORDINATES_FILE, index=False)
    return Replica(out_dir, pd.DataFrame(expected, columns=EXPECTED_COLUMNS))


def write_mendeley_replica(out_dir: Path, n_patients: int, seed: int) -> Replica:
    """Mendeley layout: ``<patient>/<series number>_<instance>.ima`` (a series in upper case, one without extension)."""
    out_dir = _empty_folder(out_dir)
    with tempfile.TemporaryDirectory() as scratch:
        phantom = write_phantom(Path(scratch) / "phantom", n_patients, seed)
        headers = _phantom_headers(phantom.out_dir)
        for patient_number, (_, study) in enumerate(headers.groupby("study", sort=False)):
            folder = out_dir / f"{patient_number + 1:04d}"
            folder.mkdir()
            for series_number, (_, series) in enumerate(study.groupby("series", sort=False)):
                extension = (".ima", ".IMA", "")[min(series_number, 2)]
                for row in series.itertuples():
                    shutil.move(row.path, folder / f"{row.series_number:04d}_{row.instance:04d}{extension}")
    return Replica(out_dir, phantom.series_truth[EXPECTED_COLUMNS])


@dataclass(frozen=True)
class _VolumeLayout:
    """How a replica volume stores its slices: the ITK axis order of (columns, rows, slices) and the slice order."""

    axes: tuple[str, str, str]
    reversed_slices: bool


SPIDER_LAYOUTS = (
    _VolumeLayout(("column", "row", "slice"), reversed_slices=False),  # as a DICOM series stacks
    _VolumeLayout(("slice", "row", "column"), reversed_slices=True),
    _VolumeLayout(("row", "slice", "column"), reversed_slices=False),
)
"""Voxel-axis orders the SPIDER replica cycles through, so the indexer must find the slice axis itself."""


def write_spider_replica(out_dir: Path, n_patients: int, seed: int, suffix: str = ".mha") -> Replica:
    """SPIDER layout: ``images/<patient>_<t1|t2|t2_SPACE><suffix>`` and ``masks/`` with the same names.

    ``expected`` names each volume's mid slice by the synthetic UIDs of lss/dicom/volumes.py (its frame
    in the file), where the phantom's midline is.
    """
    out_dir = _empty_folder(out_dir)
    (out_dir / "images").mkdir()
    (out_dir / "masks").mkdir()
    expected: list[dict[str, object]] = []
    for patient in range(n_patients):
        rng = np.random.default_rng([seed, patient, 218])
        anatomy = draw_patient_anatomy(rng)
        centre = np.array([rng.normal(0, 6), rng.uniform(20, 70), rng.normal(0, 30)])
        sequences: list[tuple[str, protocol.Weighting]] = [("t1", "T1"), ("t2", "T2")]
        sequences += [("t2_SPACE", "T2")] if patient % 2 == 0 else []
        for number, (name_suffix, weighting) in enumerate(sequences):
            name = f"{patient + 1}_{name_suffix}"
            parameters = protocol.draw_series_protocol(weighting, "sagittal", rng)
            spacing = SPACE_SPACING_MM if name_suffix == "t2_SPACE" else parameters.spacing_between_slices_mm
            stack = draw_sagittal_stack(15, spacing, rng)
            frame = draw_image_frame(SPIDER_ROWS, protocol.FIELD_OF_VIEW_MM / SPIDER_ROWS, rng)
            lateral = stack.lateral_mm()
            pixels = render_sagittal_stack(anatomy, lateral, parameters.weighting, frame, rng)
            mask = render_label_mask(anatomy, lateral, frame)
            orientation = stack_orientation("sagittal", centre, *rng.uniform(-4, 4, 2))
            layout = SPIDER_LAYOUTS[(patient + number) % len(SPIDER_LAYOUTS)]
            origin = orientation.image_position(float(lateral[0]), SPIDER_ROWS, SPIDER_ROWS, frame.pixel_spacing_mm)
            directions = {
                "column": orientation.row_direction,
                "row": orientation.column_direction,
                "slice": orientation.normal,
            }
            spacings = {"column": frame.pixel_spacing_mm, "row": frame.pixel_spacing_mm, "slice": spacing}
            if layout.reversed_slices:
                origin = origin + (stack.n_slices - 1) * spacing * orientation.normal
                directions["slice"] = -orientation.normal
                pixels, mask = pixels[::-1], mask[::-1]
            for folder, voxels in (("images", np.rint(pixels).astype(np.int16)), ("masks", mask)):
                path = out_dir / folder / f"{name}{suffix}"
                _write_volume(path, voxels, layout.axes, directions, spacings, origin, compress=folder == "masks")
            mid_frame = stack.n_slices - 1 - stack.mid_index if layout.reversed_slices else stack.mid_index
            expected.append(
                {
                    "series_instance_uid": volume_series_uid(name),
                    "mid_sop_instance_uid": volume_sop_uid(name, mid_frame),
                    "centred": stack.centred,
                }
            )
    return Replica(out_dir, pd.DataFrame(expected, columns=EXPECTED_COLUMNS))


REPLICAS: dict[str, Callable[[Path, int, int], Replica]] = {
    "rsna2024": write_rsna2024_replica,
    "spider": write_spider_replica,
    "mendeley": write_mendeley_replica,
}
"""Dataset name -> replica writer (out_dir, patients, seed), for lss-phantom --layout."""


def _empty_folder(out_dir: Path) -> Path:
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"replica output directory {out_dir} is not empty; choose a new --out directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def _phantom_headers(root: Path) -> pd.DataFrame:
    """One row per phantom DICOM file (sorted by path): the header values a replica's layout is built from."""
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix != ".csv" and not p.name.startswith(".")):
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
        rows.append(
            {
                "path": path,
                "study": str(dataset.StudyInstanceUID),
                "series": str(dataset.SeriesInstanceUID),
                "sop": str(dataset.SOPInstanceUID),
                "instance": int(dataset.InstanceNumber),
                "series_number": int(dataset.SeriesNumber),
                "description": str(dataset.SeriesDescription),
            }
        )
    return pd.DataFrame(rows)


def _rsna_description(phantom_description: str) -> str:
    description = phantom_description.lower()
    if "tra" in description:
        return AXIAL_T2
    return SAGITTAL_T1 if description.startswith("t1") else SAGITTAL_T2_STIR


def _around(mid_instance: int, offsets: tuple[int, ...]) -> list[int]:
    return [mid_instance + offset for offset in offsets]


def _marks(
    study_id: int, series_id: int, condition: str, instances: list[int], levels: tuple[str, ...] = RSNA_LEVELS
) -> list[dict[str, object]]:
    """Rows of train_label_coordinates.csv: one mark per level, at a plausible pixel."""
    return [
        {
            "study_id": study_id,
            "series_id": series_id,
            "instance_number": instance,
            "condition": condition,
            "level": level,
            "x": 150.0 + 3 * number,
            "y": 110.0 + 30 * number,
        }
        for number, (level, instance) in enumerate(zip(levels, instances))
    ]


def _write_volume(
    path: Path,
    stack: np.ndarray,
    axes: tuple[str, str, str],
    directions: dict[str, np.ndarray],
    spacings: dict[str, float],
    origin: np.ndarray,
    compress: bool,
) -> None:
    """Write (slices, rows, columns) voxels with ITK axes in the order ``axes`` (numpy's order is the reverse)."""
    position = {"slice": 0, "row": 1, "column": 2}
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(stack, [position[a] for a in reversed(axes)])))
    image.SetSpacing([float(spacings[axis]) for axis in axes])
    image.SetDirection(np.column_stack([directions[axis] for axis in axes]).flatten().tolist())
    image.SetOrigin([float(value) for value in origin])
    sitk.WriteImage(image, str(path), useCompression=compress)
