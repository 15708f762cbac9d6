"""Slice pixels -> fixed-size 8-bit image: robust intensity window, then resize.

MR intensities have no absolute scale and 12-bit scanners put a few very bright voxels (fat,
flow) far above the tissue of interest, so the window is set by percentiles, not min/max.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class PreprocessParams:
    height: int
    width: int
    low_percentile: float = 0.5
    high_percentile: float = 99.5
    version: int = 1  # bump when the algorithm below changes: it is part of the cache key

    def as_key(self) -> str:
        return repr(sorted(asdict(self).items()))


def robust_unit_range(pixels: np.ndarray, low_percentile: float, high_percentile: float) -> np.ndarray:
    """Clip to the [low, high] percentile window and scale to [0, 1]; a constant image gives zeros."""
    low, high = np.percentile(pixels, [low_percentile, high_percentile])
    if high <= low:
        return np.zeros_like(pixels, dtype=np.float32)
    return np.clip((pixels.astype(np.float32) - low) / (high - low), 0.0, 1.0)


def preprocess_slice(pixels: np.ndarray, params: PreprocessParams) -> np.ndarray:
    """Float pixels of any size -> uint8 image of ``params`` size (antialiased bilinear)."""
    unit = robust_unit_range(pixels, params.low_percentile, params.high_percentile)
    tensor = torch.from_numpy(unit)[None, None]
    resized = F.interpolate(
        tensor, size=(params.height, params.width), mode="bilinear", antialias=True, align_corners=False
    )
    return (resized[0, 0].clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).numpy()
