"""Sagittal volumes (.mha, .nii, .nii.gz; e.g. SPIDER) read as series: per-slice geometry, then pixels per slice.

A volume carries no DICOM UIDs, PatientID or TE/TR, so what the manifest needs is derived from its file name:

- ``series_uid`` = ``2.25.<n>``, n the name-based UUID (RFC 4122 version 5) of ``lss-volume/series/<name>``, the
  name without its extension (``12_t2`` for ``12_t2.mha``); ``sop_uid`` the same of
  ``lss-volume/instance/<name>/<slice index in the file>``: deterministic UIDs that a labels CSV
  (series_instance_uid, mid_sop_instance_uid) can name without opening the volume;
- the patient is the name up to its first ``_`` (SPIDER: ``12_t2_SPACE.mha`` -> ``12``), hashed into
  ``patient_key`` like PatientID; one study per patient (``lss-volume/study/<patient>``);
- the weighting is what the name says (``_t1``, ``_t2``, ``_t2_SPACE``), as a SeriesDescription would.

Two volumes with the same name in different folders get the same UIDs: the second is skipped as a duplicate.
Slices are cut along the volume axis closest to patient x (left-right) and laid out as a sagittal DICOM
image: rows head -> feet, columns anterior -> posterior. ITK reads every format in DICOM's patient
coordinates (LPS), so n·p is computed exactly as for DICOM.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lss.dicom.geometry import PLANES
from lss.dicom.skips import SkipFile

VOLUME_SUFFIXES = (".mha", ".nii", ".nii.gz")
MASKS_FOLDER = "masks"
"""SPIDER keeps its label masks beside the images under this name; volumes there are masks, not images."""
ANISOTROPY = 1.5
"""An axis this many times coarser than the left-right one means the volume was acquired in another plane."""
_UID_ROOT = "lss-volume"


def is_volume(path: Path) -> bool:
    return path.name.lower().endswith(VOLUME_SUFFIXES)


def volume_name(path: Path) -> str:
    """The file name without its volume extension: what the synthetic UIDs and the patient come from."""
    name = path.name
    suffix = next(suffix for suffix in VOLUME_SUFFIXES if name.lower().endswith(suffix))
    return name[: -len(suffix)]


def _uuid_uid(*parts: object) -> str:
    """A DICOM UID under 2.25 (UUID-derived, PS3.5 B.2) from the name-based UUID of ``lss-volume/<parts>``."""
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, '/'.join(map(str, (_UID_ROOT, *parts)))).int}"


def volume_series_uid(name: str) -> str:
    return _uuid_uid("series", name)


def volume_sop_uid(name: str, frame: int) -> str:
    return _uuid_uid("instance", name, frame)


def volume_patient_id(name: str) -> str:
    return name.split("_", 1)[0]


def volume_study_uid(patient_id: str) -> str:
    return _uuid_uid("study", patient_id)


@dataclass(frozen=True)
class SliceGrid:
    """How the 2-D slices are cut from a volume: ITK axes for slices, image rows and columns, and flips."""

    slice_axis: int
    row_axis: int
    column_axis: int
    flip_rows: bool
    flip_columns: bool

    @classmethod
    def of(cls, direction: np.ndarray) -> SliceGrid:
        """Slices along the axis closest to x; rows along the in-plane axis closest to z, running head -> feet."""
        slice_axis = int(np.argmax(np.abs(direction[0])))
        in_plane = [axis for axis in range(3) if axis != slice_axis]
        row_axis = max(in_plane, key=lambda axis: abs(direction[2, axis]))
        column_axis = next(axis for axis in in_plane if axis != row_axis)
        return cls(slice_axis, row_axis, column_axis, direction[2, row_axis] > 0, direction[1, column_axis] < 0)

    def as_stack(self, array: np.ndarray) -> np.ndarray:
        """(slices, rows, columns) from an array in numpy order (ITK axes reversed)."""
        stack = np.transpose(array, [2 - self.slice_axis, 2 - self.row_axis, 2 - self.column_axis])
        return stack[:, :: -1 if self.flip_rows else 1, :: -1 if self.flip_columns else 1]


@dataclass(frozen=True)
class VolumeGeometry:
    """What the indexer needs of one volume: its identity (from the name) and each slice's orientation and position."""

    name: str
    orientation: tuple[float, ...]
    positions: list[tuple[float, ...]]


def read_volume_geometry(path: Path) -> VolumeGeometry:
    """Header-only read: the ImageOrientationPatient / ImagePositionPatient each slice would have as DICOM."""
    import SimpleITK as sitk  # only when a volume is read: its import costs a third of a second

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    size, spacing = reader.GetSize(), np.array(reader.GetSpacing())
    if len(size) != 3:
        raise SkipFile("not_3d_volume", f"{len(size)}-D image of size {size}")
    if reader.GetNumberOfComponents() != 1:
        raise SkipFile("not_grayscale", f"{reader.GetNumberOfComponents()} components per voxel")
    direction = np.array(reader.GetDirection()).reshape(3, 3)  # column k: patient direction of ITK axis k
    grid = SliceGrid.of(direction)
    coarsest = int(np.argmax(spacing))
    if spacing[coarsest] > ANISOTROPY * spacing[grid.slice_axis]:
        plane = PLANES[int(np.argmax(np.abs(direction[:, coarsest])))]
        raise SkipFile("not_sagittal", f"{plane}: slices {spacing[coarsest]:g} mm apart, {spacing.round(3)} mm voxels")
    steps = direction * spacing  # column k: one voxel step along ITK axis k, in mm
    first_pixel = np.array(reader.GetOrigin(), dtype=float)
    for axis, flipped in ((grid.row_axis, grid.flip_rows), (grid.column_axis, grid.flip_columns)):
        if flipped:
            first_pixel = first_pixel + (size[axis] - 1) * steps[:, axis]
    row_cosines = direction[:, grid.column_axis] * (-1 if grid.flip_columns else 1)
    column_cosines = direction[:, grid.row_axis] * (-1 if grid.flip_rows else 1)
    positions = [
        tuple(float(value) for value in first_pixel + frame * steps[:, grid.slice_axis])
        for frame in range(size[grid.slice_axis])
    ]
    orientation = tuple(float(value) for value in (*row_cosines, *column_cosines))
    return VolumeGeometry(volume_name(path), orientation, positions)


def read_volume_slice(path: Path, frame: int) -> np.ndarray:
    """2-D float32 pixels of slice ``frame`` as the indexer laid it out; .mha reads only that slice from disk."""
    import SimpleITK as sitk  # only when a volume is read: its import costs a third of a second

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    grid = SliceGrid.of(np.array(reader.GetDirection()).reshape(3, 3))
    size = list(reader.GetSize())
    if not 0 <= frame < size[grid.slice_axis]:
        raise IndexError(f"slice {frame} requested, the volume has {size[grid.slice_axis]}")
    index = [0, 0, 0]
    index[grid.slice_axis], size[grid.slice_axis] = frame, 1
    reader.SetExtractIndex(index)
    reader.SetExtractSize(size)
    return grid.as_stack(sitk.GetArrayFromImage(reader.Execute()))[0].astype(np.float32)


def read_volume_stack(path: Path) -> np.ndarray:
    """Every slice, (slices, rows, columns) in the indexer's slice order and layout (frame k is slice k)."""
    import SimpleITK as sitk  # only when a volume is read: its import costs a third of a second

    image = sitk.ReadImage(str(path))
    return SliceGrid.of(np.array(image.GetDirection()).reshape(3, 3)).as_stack(sitk.GetArrayFromImage(image))
