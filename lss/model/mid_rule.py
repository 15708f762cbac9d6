"""Which slices are Mid, from p_mid: each slice on its own (``independent``), or one band per series (``band``).

Mid slices form one contiguous band around the mid-sagittal plane.

Classifying slices independently ignores that; the ``band`` rule picks, per series, the window
of ``band_size`` consecutive slices (in slice order) with the largest summed log-odds of Mid, and
labels exactly that window Mid. A series shorter than the window is all Mid.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from lss.errors import ConfigError

MidRule = Literal["independent", "band"]
_EPS = 1e-6
MID_THRESHOLD = 0.5


def is_mid(p_mid: ArrayLike) -> np.ndarray:
    """The one per-slice rule for Mid: p_mid > 0.5. A tie (equal logits) is Lateral, as argmax has it."""
    return np.asarray(p_mid) > MID_THRESHOLD


def log_odds(p_mid: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p_mid, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def best_band(p_mid_in_slice_order: np.ndarray, band_size: int) -> tuple[int, int]:
    """[start, stop) of the ``band_size``-slice window with the largest summed log-odds (first on ties)."""
    n = len(p_mid_in_slice_order)
    if band_size < 1:
        raise ValueError(f"band_size must be >= 1, got {band_size}")
    if n <= band_size:
        return 0, n
    window_sums = np.convolve(log_odds(p_mid_in_slice_order), np.ones(band_size), mode="valid")
    start = int(np.argmax(window_sums))
    return start, start + band_size


def choose_mid(predictions: pd.DataFrame, rule: MidRule, band_size: int) -> pd.Series:
    """Boolean Mid decision per row of ``predictions`` (columns series_uid, slice_index, p_mid)."""
    if rule == "independent":
        return pd.Series(is_mid(predictions["p_mid"].to_numpy()), index=predictions.index)
    if rule != "band":
        raise ConfigError(f"mid_rule must be 'independent' or 'band', got {rule!r}")
    chosen = pd.Series(False, index=predictions.index)
    for _, series in predictions.groupby("series_uid", sort=False):
        ordered = series.sort_values("slice_index")
        start, stop = best_band(ordered["p_mid"].to_numpy(), band_size)
        chosen.loc[ordered.index[start:stop]] = True
    return chosen
