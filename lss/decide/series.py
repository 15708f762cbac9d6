"""What every series-level selector shares: slices grouped by series, and p_mid from a score per candidate.

A series selector scores each slice c of a series as the mid-sagittal candidate; a softmax of score / temperature
over the series' slices is p(c is the mid-sagittal slice), and a slice's p_mid is the probability that the Mid
band around that slice contains it, so the Mid rule, the review page and every metric read it like a
classifier's.
"""

from __future__ import annotations

import numpy as np
import torch

from lss.manifest import mid_band


def per_series(values: torch.Tensor, series: torch.Tensor) -> list[torch.Tensor]:
    """Split slice values by series number (slices of a series are contiguous, series numbered 0..B-1)."""
    return list(torch.split(values, torch.bincount(series).tolist()))


def band_membership(p_centre: np.ndarray, band_size: int) -> np.ndarray:
    """p_mid of each slice of one series (position order): the probability that the Mid band around the
    mid-sagittal slice contains it, from p(c is the mid-sagittal slice) over the series' slices."""
    count = len(p_centre)
    p_mid = np.zeros(count)
    for centre, probability in enumerate(p_centre):
        band = mid_band(centre, count, band_size)
        p_mid[band.start : band.stop] += probability
    return np.clip(p_mid, 0.0, 1.0)


def padded_candidates(scores: list[torch.Tensor]) -> torch.Tensor:
    """Each series' candidate scores as one row, padded with -inf (a candidate of probability 0): (series, most)."""
    return torch.nn.utils.rnn.pad_sequence(
        [part.double() for part in scores], batch_first=True, padding_value=float("-inf")
    )


def candidate_p_mid(padded: torch.Tensor, temperature: float, band_size: int) -> list[np.ndarray]:
    """Per series of ``padded`` (``padded_candidates``): p_mid of each of its slices, from softmax(score / temperature)
    over its candidates."""
    p_centre = torch.softmax(padded.double() / temperature, dim=1).cpu().numpy()
    lengths = torch.isfinite(padded).sum(dim=1).tolist()
    return [band_membership(row[:length], band_size) for row, length in zip(p_centre, lengths)]


def vertex_offset(left: float, centre: float, right: float) -> float:
    """Where the parabola through (-1, left), (0, centre), (1, right) peaks, in [-1, 1] (0 when it has no peak)."""
    curvature = left - 2 * centre + right
    if not np.isfinite(curvature) or curvature >= 0:
        return 0.0
    return float(np.clip(0.5 * (left - right) / curvature, -1.0, 1.0))
