"""lss.decide.symmetry's slice scores of every labelled series of the real lumbar set and of each of its sub-stacks,
computed once from the raw pixels (read with lss's own ``read_slice_pixels``, as benchmarks/label_free.py does).

A sub-stack drops ``first`` slices from the low-position end and ``last`` from the high one (0..MAX_DROPPED each):
benchmarks/series_cv.py trains on such crops and tests on off-centre stacks, and the symmetry score of a slice
depends on which other slices the stack holds. Cached as one .npz under ~/.cache/lss/benchmarks/series_cv/.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from real_lumbar import REAL_LUMBAR
from series_embeddings import WORKDIR

from lss.decide.symmetry import estimate_mid_plane
from lss.dicom.pixels import read_slice_pixels

MAX_DROPPED = 4
"""Most slices a sub-stack drops from either end (benchmarks/real_lumbar.py's off-centre stacks drop 3-4)."""
CACHED = WORKDIR / f"symmetry-scores-{MAX_DROPPED}.npz"

SubStack = tuple[str, int, int]
"""(series_uid, slices dropped from the low-position end, from the high-position end)."""


def key(sub_stack: SubStack) -> str:
    return "|".join(map(str, sub_stack))


def symmetry_scores(slices: pd.DataFrame) -> dict[SubStack, np.ndarray]:
    """Per sub-stack, its slices' symmetry scores in position order (-inf at the ends: no mirrored pair)."""
    if CACHED.is_file():
        stored = np.load(CACHED)
        return {(uid, int(first), int(last)): stored[name] for name in stored for uid, first, last in [name.split("|")]}
    scores = {}
    for uid, series in slices.sort_values(["series_uid", "slice_location_mm"]).groupby("series_uid", sort=True):
        images = np.stack(
            [read_slice_pixels(REAL_LUMBAR / path, frame) for path, frame in zip(series.path, series.frame)]
        )
        positions = series["slice_location_mm"].to_numpy(np.float64)
        count = len(positions)
        for first in range(MAX_DROPPED + 1):
            for last in range(MAX_DROPPED + 1):
                if count - first - last >= 3:
                    kept = slice(first, count - last)
                    scores[(str(uid), first, last)] = estimate_mid_plane(images[kept], positions[kept]).slice_scores
    CACHED.parent.mkdir(parents=True, exist_ok=True)
    np.savez(CACHED, **{key(sub_stack): value for sub_stack, value in scores.items()})
    return scores
