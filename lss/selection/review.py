"""Which series a person should look at before trusting the selection.

A series is flagged for review when its chosen band is unsure (the mean calibrated p_mid of its Mid
slices is below ``threshold``), when another band competes with it (a window of ``band_size``
consecutive slices, sharing no slice with the chosen ones, whose mean p_mid also reaches
``threshold``: the model sees two plausible mid-sagittal regions), or when a second opinion that learnt
nothing, the label-free mirror-symmetry estimate (lss.decide.symmetry), picks another mid slice: a trained
model is as sure of itself on a site it never saw as on its own, and the two rarely fail together there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lss.decide.symmetry import estimate_mid_plane
from lss.manifest import MID

SECOND_OPINION_MIN_SLICES = 3
"""The symmetry estimate needs a slice with a neighbour on each side."""


def band_p_mid(series: pd.DataFrame) -> float:
    """Mean p_mid of the slices chosen as Mid (NaN when none was)."""
    chosen = series.loc[series["label"] == MID, "p_mid"]
    return float(chosen.mean()) if len(chosen) else float("nan")


def competing_band(series: pd.DataFrame, band_size: int, threshold: float) -> tuple[int, int, float] | None:
    """(first, last slice_index, mean p_mid) of the strongest window of ``band_size`` slices that shares no slice
    with the chosen Mid slices and whose mean p_mid reaches ``threshold``; None when there is none."""
    ordered = series.sort_values("slice_index")
    if len(ordered) < band_size:
        return None
    p_mid = ordered["p_mid"].to_numpy(dtype=np.float64)
    chosen = (ordered["label"] == MID).to_numpy()
    means = np.convolve(p_mid, np.ones(band_size) / band_size, mode="valid")
    overlaps = np.convolve(chosen.astype(float), np.ones(band_size), mode="valid") > 0
    candidates = np.flatnonzero(~overlaps & (means >= threshold))
    if not len(candidates):
        return None
    start = int(candidates[np.argmax(means[candidates])])
    indices = ordered["slice_index"].to_numpy()
    return int(indices[start]), int(indices[start + band_size - 1]), float(means[start])


def label_free_pick(series: pd.DataFrame, images: np.ndarray) -> int | None:
    """The slice_index the label-free symmetry estimate calls mid-sagittal, from the series' images (rows of
    ``series``, in its row order); None for a series too short to have one or whose slices have no positions."""
    positions_mm = series["slice_location_mm"].to_numpy(np.float64)
    if len(series) < SECOND_OPINION_MIN_SLICES or not np.isfinite(positions_mm).all():
        return None
    estimate = estimate_mid_plane(images, positions_mm)
    return int(series["slice_index"].iloc[estimate.mid_index])


def review_reasons(
    series: pd.DataFrame,
    band_size: int,
    threshold: float,
    chosen_mid: int | None = None,
    second_opinion: int | None = None,
) -> str:
    """Why the series needs a person's eye, "; "-separated; empty when it does not. ``second_opinion``: the
    label-free pick (``label_free_pick``) to compare with the chosen mid slice_index ``chosen_mid``."""
    reasons = []
    mean = band_p_mid(series)
    if np.isnan(mean):
        reasons.append("no slice chosen as Mid")
    elif mean < threshold:
        reasons.append(f"chosen band's mean p_mid {mean:.2f} < {threshold:g}")
    competitor = competing_band(series, band_size, threshold)
    if competitor is not None:
        first, last, competing_mean = competitor
        reasons.append(f"competing band at slices {first}-{last} (mean p_mid {competing_mean:.2f})")
    if second_opinion is not None and chosen_mid is not None and second_opinion != chosen_mid:
        reasons.append(f"the label-free selector picks slice {second_opinion}, not {chosen_mid}")
    return "; ".join(reasons)
