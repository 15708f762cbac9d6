"""Slice geometry from ImageOrientationPatient / ImagePositionPatient (paper §3, Fig. 3).

Patient axes (DICOM LPS, paper §3): x right->left, y anterior->posterior, z feet->head.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PLANES: tuple[str, str, str] = ("sagittal", "coronal", "axial")
"""Plane named by the patient axis (x, y, z) that dominates the slice normal."""

_UNIT_TOLERANCE = 1e-2
"""How far |row|, |col| may stray from 1 and row·col from 0 before the orientation is rejected."""


class OrientationError(ValueError):
    """ImageOrientationPatient is not two orthonormal 3-vectors."""


def slice_normal(image_orientation_patient: Sequence[float]) -> np.ndarray:
    """n = row cosines x column cosines: the unit normal of the image plane (paper §3)."""
    values = np.asarray(image_orientation_patient, dtype=float)
    if values.shape != (6,) or not np.all(np.isfinite(values)):
        raise OrientationError(f"expected 6 finite direction cosines, found {list(image_orientation_patient)}")
    row, col = values[:3], values[3:]
    if (
        abs(np.linalg.norm(row) - 1) > _UNIT_TOLERANCE
        or abs(np.linalg.norm(col) - 1) > _UNIT_TOLERANCE
        or abs(float(row @ col)) > _UNIT_TOLERANCE
    ):
        raise OrientationError(f"row and column cosines are not orthonormal: {values.tolist()}")
    normal = np.cross(row, col)
    return normal / np.linalg.norm(normal)


def slice_location_mm(image_orientation_patient: Sequence[float], image_position_patient: Sequence[float]) -> float:
    """s = n·p, the signed distance of the slice plane from the patient origin (paper §3)."""
    position = np.asarray(image_position_patient, dtype=float)
    if position.shape != (3,) or not np.all(np.isfinite(position)):
        raise ValueError(f"expected 3 finite coordinates, found {list(image_position_patient)}")
    return float(slice_normal(image_orientation_patient) @ position)


def plane_of(image_orientation_patient: Sequence[float]) -> str:
    """Plane from the dominant component of the normal, so oblique sagittal counts as sagittal."""
    return PLANES[int(np.argmax(np.abs(slice_normal(image_orientation_patient))))]


def are_parallel(orientation_a: Sequence[float], orientation_b: Sequence[float], max_angle_deg: float = 1.0) -> bool:
    """Whether two slices share a normal closely enough for their n·p values to be comparable."""
    cosine = abs(float(slice_normal(orientation_a) @ slice_normal(orientation_b)))
    return cosine >= np.cos(np.deg2rad(max_angle_deg))
