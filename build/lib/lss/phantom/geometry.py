"""Where a phantom series' slices lie: the truth behind the labels, and the header geometry.

Patient axes follow the paper (§3): x right -> left, y anterior -> posterior, z feet -> head.
A sagittal stack is described by how far each slice plane lies from the spine's midline (the truth
used for Mid/Lateral, §3); the headers (ImageOrientationPatient, ImagePositionPatient, SliceLocation)
are derived from the same numbers so that the indexer can recover the order and spacing.
"""

from dataclasses import dataclass

import numpy as np

from lss.manifest import centre_index

MID_HALF_WIDTH = 2  # §3: the mid-sagittal slice and its four nearest neighbours are Mid


@dataclass(frozen=True)
class SagittalStack:
    """The lateral layout of one sagittal series relative to the spine's midline.

    `spine_offset_mm` is the signed distance, along the stack normal, from the centre slice plane
    (index (n_slices - 1) // 2) to the midline; the mid slice is the one nearest the midline.
    """

    n_slices: int
    spacing_mm: float
    mid_index: int
    spine_offset_mm: float

    @property
    def centre_index(self) -> int:
        return centre_index(self.n_slices)

    @property
    def centred(self) -> bool:
        return self.mid_index == self.centre_index

    def lateral_mm(self) -> np.ndarray:
        """Signed distance of each slice plane from the midline, along the stack normal."""
        return (np.arange(self.n_slices) - self.centre_index) * self.spacing_mm - self.spine_offset_mm

    def is_mid(self) -> np.ndarray:
        return np.abs(np.arange(self.n_slices) - self.mid_index) <= MID_HALF_WIDTH


def draw_sagittal_stack(n_slices: int, spacing_mm: float, rng: np.random.Generator) -> SagittalStack:
    """Place the midline near the centre slice: exactly there for most series (p = 0.6), else 1-2 slices off.

    The off-centre series keep mid +- 2 inside the stack, as every real series of the paper does.
    """
    if n_slices < 2 * MID_HALF_WIDTH + 1:
        raise ValueError(
            f"a sagittal series needs at least {2 * MID_HALF_WIDTH + 1} slices to hold the Mid band; "
            f"got n_slices={n_slices}"
        )
    centre = centre_index(n_slices)
    room = min(MID_HALF_WIDTH, centre - MID_HALF_WIDTH, n_slices - 1 - MID_HALF_WIDTH - centre)
    shifts = np.arange(-MID_HALF_WIDTH, MID_HALF_WIDTH + 1)
    weights = np.array([0.05, 0.15, 0.6, 0.15, 0.05]) * (np.abs(shifts) <= room)
    shift = int(rng.choice(shifts, p=weights / weights.sum()))
    fraction = float(rng.uniform(-0.4, 0.4))  # the midline rarely falls exactly on a slice plane
    return SagittalStack(n_slices, spacing_mm, centre + shift, round((shift + fraction) * spacing_mm, 3))


@dataclass(frozen=True)
class StackOrientation:
    """The direction cosines of a series (ImageOrientationPatient) and the centre of its reference plane."""

    row_direction: np.ndarray
    column_direction: np.ndarray
    reference_centre_mm: np.ndarray

    @property
    def normal(self) -> np.ndarray:
        """§3: n = u x v, the direction along which slices step."""
        return np.cross(self.row_direction, self.column_direction)

    def image_position(self, offset_mm: float, rows: int, columns: int, pixel_spacing_mm: float) -> np.ndarray:
        """ImagePositionPatient (centre of the top-left pixel) of the plane `offset_mm` along the normal."""
        centre = self.reference_centre_mm + offset_mm * self.normal
        half_extent = (np.array([columns, rows]) - 1) / 2 * pixel_spacing_mm
        return centre - half_extent[0] * self.row_direction - half_extent[1] * self.column_direction


def _rotation(about_y_deg: float, about_z_deg: float) -> np.ndarray:
    a, b = np.radians(about_y_deg), np.radians(about_z_deg)
    rot_y = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rot_z = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    return rot_z @ rot_y


def stack_orientation(
    plane: str, reference_centre_mm: np.ndarray, tilt_about_y_deg: float = 0.0, tilt_about_z_deg: float = 0.0
) -> StackOrientation:
    """Siemens-style orientation, optionally tilted a few degrees (an oblique planned on the localiser).

    Sagittal rows run anterior -> posterior and columns head -> feet (u = +y, v = -z); axial rows run
    right -> left and columns anterior -> posterior (u = +x, v = +y).
    """
    row, column = {"sagittal": ([0.0, 1.0, 0.0], [0.0, 0.0, -1.0]), "axial": ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0])}[plane]
    rotation = _rotation(tilt_about_y_deg, tilt_about_z_deg)
    return StackOrientation(
        rotation @ np.array(row), rotation @ np.array(column), np.asarray(reference_centre_mm, float)
    )
