"""Hand-made volumes for tests the SPIDER replica does not cover (odd shapes, axial, 2-D, hand-placed labels)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

SAGITTAL_AXES = (0.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0)
"""Direction (row-major 3 x 3, columns = ITK axes): columns anterior->posterior, rows head->feet, slices along -x."""
AXIAL_AXES = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def write_volume(
    path: Path,
    voxels: np.ndarray,
    spacing: tuple[float, ...] = (1.0, 1.0, 4.0),
    direction: tuple[float, ...] = SAGITTAL_AXES,
    origin: tuple[float, ...] = (0.0, 0.0, 0.0),
) -> Path:
    """Write numpy voxels (numpy order: the last ITK axis first) with the given ITK geometry."""
    image = sitk.GetImageFromArray(voxels)
    image.SetSpacing(spacing)
    if voxels.ndim == 3:
        image.SetDirection(direction)
        image.SetOrigin(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))
    return path
