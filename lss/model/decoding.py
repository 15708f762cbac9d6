"""Series-aware decoding: Mid slices form one contiguous band around the mid-sagittal plane.

Classifying slices independently ignores that; ``band`` decoding picks, per series, the window
of ``width`` consecutive slices (in slice order) with the largest summed log-odds of Mid, and
labels exactly that window Mid. A series shorter than the window is all Mid.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

Decode = Literal["independent", "band"]
_EPS = 1e-6


def log_odds(p_mid: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p_mid, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def best_band(p_mid_in_slice_order: np.ndarray, width: int) -> tuple[int, int]:
    """[start, stop) of the ``width``-slice window with the largest summed log-odds (first on ties)."""
    n = len(p_mid_in_slice_order)
    if width < 1:
        raise ValueError(f"band width must be >= 1, got {width}")
    if n <= width:
        return 0, n
    window_sums = np.convolve(log_odds(p_mid_in_slice_order), np.ones(width), mode="valid")
    start = int(np.argmax(window_sums))
    return start, start + width


def decode_mid(predictions: pd.DataFrame, decode: Decode, width: int = 5) -> pd.Series:
    """Boolean Mid decision per row of ``predictions`` (columns series_uid, slice_index, p_mid)."""
    if decode == "independent":
        return predictions["p_mid"] >= 0.5
    if decode != "band":
        raise ValueError(f"decode must be 'independent' or 'band', got {decode!r}")
    is_mid = pd.Series(False, index=predictions.index)
    for _, series in predictions.groupby("series_uid", sort=False):
        ordered = series.sort_values("slice_index")
        start, stop = best_band(ordered["p_mid"].to_numpy(), width)
        is_mid.loc[ordered.index[start:stop]] = True
    return is_mid
