"""Which slices are Mid: each slice on its own (``independent``), one band per series (``band``), or
the band around the stack's centre slice, whatever the images show (``centre``, the baseline).

Mid slices form one contiguous band around the mid-sagittal plane. Classifying slices
independently ignores that; the ``band`` rule picks, per series, the window of ``band_size``
consecutive slices (in slice order) with the largest summed log-odds of Mid, and labels exactly
that window Mid. A series shorter than the window is all Mid. The ``centre`` rule is what a user
would try first: the centre slice of the stack and its neighbours.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from lss.decide.series import vertex_offset
from lss.errors import ConfigError
from lss.manifest import centre_index, mid_band

MidRule = Literal["independent", "band", "centre"]
MID_RULES: tuple[str, ...] = ("independent", "band", "centre")
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
    start = int(np.argmax(window_log_odds(p_mid_in_slice_order, band_size)))
    return start, start + band_size


def window_log_odds(p_mid_in_slice_order: np.ndarray, band_size: int) -> np.ndarray:
    """The summed log-odds of Mid of every window of ``band_size`` consecutive slices (what the band rule ranks)."""
    return np.convolve(log_odds(p_mid_in_slice_order), np.ones(band_size), mode="valid")


def band_centre(p_mid_in_slice_order: np.ndarray, band_size: int) -> int:
    """Position (in slice order) of the mid-sagittal slice the band rule chooses: the centre of the best band."""
    start, stop = best_band(p_mid_in_slice_order, band_size)
    return start + centre_index(stop - start)


def chosen_band(series: pd.DataFrame, band_size: int) -> pd.DataFrame:
    """The rows of one whole series' chosen band, in slice order."""
    ordered = series.sort_values("slice_index")
    start, stop = best_band(ordered["p_mid"].to_numpy(), band_size)
    return ordered.iloc[start:stop]


def band_plane_offset(p_mid_in_slice_order: np.ndarray, band_size: int) -> float:
    """How far (in slices, within +-0.5) the mid-sagittal plane lies from the band rule's mid slice: the peak of the
    parabola through the summed log-odds of the chosen window and the windows one slice before and after it."""
    if len(p_mid_in_slice_order) < band_size + 2:  # fewer than three windows: no neighbour on both sides
        return 0.0
    sums = window_log_odds(p_mid_in_slice_order, band_size)
    start = int(np.argmax(sums))  # best_band's window
    if start in (0, len(sums) - 1):
        return 0.0
    return 0.5 * vertex_offset(sums[start - 1], sums[start], sums[start + 1])


def chosen_mid_plane_mm(series: pd.DataFrame, rule: MidRule, band_size: int) -> float:
    """Where a series rule puts the mid-sagittal plane, in mm along the slice normal (slice_location_mm): the band
    rule's mid slice moved by ``band_plane_offset`` towards its neighbour; the centre rule's middle of the stack."""
    ordered = series.sort_values("slice_index")
    positions = ordered["slice_location_mm"].to_numpy(float)
    if rule == "centre":
        return float((positions.min() + positions.max()) / 2)
    p_mid = ordered["p_mid"].to_numpy()
    mid = band_centre(p_mid, band_size)
    offset = band_plane_offset(p_mid, band_size)
    neighbour = mid + (1 if offset > 0 else -1)
    if offset == 0 or not 0 <= neighbour < len(positions):
        return float(positions[mid])
    return float(positions[mid] + abs(offset) * (positions[neighbour] - positions[mid]))


def chosen_mid_index(series: pd.DataFrame, rule: MidRule, band_size: int) -> int:
    """The slice_index a series rule calls mid-sagittal: the centre of the chosen band, or of the stack.

    ``series`` holds one whole series (slice_index, n_slices, p_mid); the band rule needs all its slices.
    """
    if rule == "centre":
        return centre_index(int(series["n_slices"].iloc[0]))
    ordered = series.sort_values("slice_index")
    return int(ordered["slice_index"].iloc[band_centre(ordered["p_mid"].to_numpy(), band_size)])


def choose_mid(predictions: pd.DataFrame, rule: MidRule, band_size: int) -> pd.Series:
    """Boolean Mid decision per row of ``predictions`` (series_uid, slice_index, p_mid; n_slices for ``centre``).

    ``independent`` and ``centre`` also work on a subset of a series' slices (a split by image);
    ``band`` needs whole series.
    """
    if rule not in MID_RULES:
        raise ConfigError(f"mid_rule must be one of {', '.join(MID_RULES)}, got {rule!r}")
    if rule == "independent":
        return pd.Series(is_mid(predictions["p_mid"].to_numpy()), index=predictions.index)
    if rule == "centre":
        centre_bands = [mid_band(centre_index(n), n, band_size) for n in predictions["n_slices"].astype(int)]
        return pd.Series(
            [index in band for index, band in zip(predictions["slice_index"], centre_bands)], index=predictions.index
        )
    chosen = pd.Series(False, index=predictions.index)
    for _, series in predictions.groupby("series_uid", sort=False):
        chosen.loc[chosen_band(series, band_size).index] = True
    return chosen
