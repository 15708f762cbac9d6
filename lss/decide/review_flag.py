"""Which series a reader should check first: the learned pick is doubtful when the label-free symmetry estimate
(lss.decide.symmetry) picks another slice, or when its runner-up is almost as likely.

Contract: ``candidate_margin(log_p)`` takes one log p(mid) per slice of a series (e.g. ``log_p_with_prior`` of
lss.decide.series_scorer) and gives p(best) - p(second best); ``needs_review(log_p, symmetry_pick, min_margin)``
is True when the best slice is not ``symmetry_pick`` or the margin is below ``min_margin``. ``min_margin`` is chosen
on validation series so that at most 30 % of them are flagged (benchmarks/series_cv.py, results/series_cv.md).
"""

from __future__ import annotations

import numpy as np


def candidate_margin(log_p: np.ndarray) -> float:
    """p(best slice) - p(second-best slice) of one series (1 for a one-slice series: nothing to confuse it with)."""
    log_p = np.asarray(log_p, np.float64)
    p = np.sort(np.exp(log_p - log_p.max()))
    p /= p.sum()
    return float(p[-1] - p[-2]) if len(p) > 1 else 1.0


def needs_review(log_p: np.ndarray, symmetry_pick: int, min_margin: float) -> bool:
    """Flag a series whose pick disagrees with the symmetry pick or beats the runner-up by less than ``min_margin``."""
    return int(np.argmax(log_p)) != symmetry_pick or candidate_margin(log_p) < min_margin
