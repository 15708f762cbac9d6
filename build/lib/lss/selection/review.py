"""Which series a person should look at before trusting the selection.

A series is flagged for review when its chosen band is unsure (the mean calibrated p_mid of its Mid
slices is below ``threshold``) or when another band competes with it (a window of ``band_size``
consecutive slices, sharing no slice with the chosen ones, whose mean p_mid also reaches
``threshold``: the model sees two plausible mid-sagittal regions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lss.manifest import MID


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


def review_reasons(series: pd.DataFrame, band_size: int, threshold: float) -> str:
    """Why the series needs a person's eye, "; "-separated; empty when it does not."""
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
    return "; ".join(reasons)
