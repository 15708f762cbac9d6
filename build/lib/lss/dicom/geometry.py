"""Slice geometry from ImageOrientationPatient / ImagePositionPatient (paper §3, Fig. 3).

Patient axes (DICOM LPS, paper §3): x right->left, y anterior->posterior, z feet->head.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

PLANES: tuple[str, str, str] = ("sagittal", "coronal", "axial")
"""Plane named by the patient axis (x, y, z) that dominates the slice normal."""

_UNIT_TOLERANCE = 1e-2
"""How far |row|, |col| may stray from 1 and row·col from 0 before the orientation is rejected."""


class OrientationError(ValueError):
    """ImageOrientationPatient is not two orthonormal 3-vectors."""


def slice_normal(image_orientation_patient: Sequence[float]) -> tuple[float, float, float]:
    """n = row cosines x column cosines: the unit normal of the image plane (paper §3).

    Plain floats rather than numpy: this runs several times per slice and 3-vectors gain nothing from numpy.
    """
    values = [float(value) for value in image_orientation_patient]
    if len(values) != 6 or not all(math.isfinite(value) for value in values):
        raise OrientationError(f"expected 6 finite direction cosines, found {list(image_orientation_patient)}")
    (rx, ry, rz), (cx, cy, cz) = values[:3], values[3:]
    if (
        abs(math.hypot(rx, ry, rz) - 1) > _UNIT_TOLERANCE
        or abs(math.hypot(cx, cy, cz) - 1) > _UNIT_TOLERANCE
        or abs(rx * cx + ry * cy + rz * cz) > _UNIT_TOLERANCE
    ):
        raise OrientationError(f"row and column cosines are not orthonormal: {values}")
    nx, ny, nz = ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx
    length = math.hypot(nx, ny, nz)
    return nx / length, ny / length, nz / length


def slice_location_mm(image_orientation_patient: Sequence[float], image_position_patient: Sequence[float]) -> float:
    """s = n·p, the signed distance of the slice plane from the patient origin (paper §3)."""
    position = [float(value) for value in image_position_patient]
    if len(position) != 3 or not all(math.isfinite(value) for value in position):
        raise ValueError(f"expected 3 finite coordinates, found {list(image_position_patient)}")
    return sum(n * p for n, p in zip(slice_normal(image_orientation_patient), position))


def plane_of(image_orientation_patient: Sequence[float]) -> str:
    """Plane from the dominant component of the normal, so oblique sagittal counts as sagittal."""
    magnitudes = [abs(component) for component in slice_normal(image_orientation_patient)]
    return PLANES[magnitudes.index(max(magnitudes))]


def are_parallel(orientation_a: Sequence[float], orientation_b: Sequence[float], max_angle_deg: float = 1.0) -> bool:
    """Whether two slices share a normal closely enough for their n·p values to be comparable."""
    cosine = abs(sum(a * b for a, b in zip(slice_normal(orientation_a), slice_normal(orientation_b))))
    return cosine >= math.cos(math.radians(max_angle_deg))
