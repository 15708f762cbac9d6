"""Which series a reader should check first: a selector's pick is doubtful when its best two candidates are close.

Contract: ``candidate_margin(scores)`` takes one score per slice of a series (any selector's logits) and gives the
gap between the best and the second-best slice; ``needs_review(margin, threshold)`` is True below the
threshold. The threshold is chosen on validation series so that a given share of them is flagged
(benchmarks/series_cv.py, results/series_cv.md).
"""

from __future__ import annotations

import numpy as np


def candidate_margin(scores: np.ndarray) -> float:
    """Best minus second-best score of one series (inf for a one-slice series: nothing to confuse it with)."""
    ordered = np.sort(np.asarray(scores, np.float64))
    return float(ordered[-1] - ordered[-2]) if len(ordered) > 1 else float("inf")


def needs_review(margin: float, threshold: float) -> bool:
    """Flag a series whose best candidate beats the runner-up by less than ``threshold`` (same units as its scores)."""
    return margin < threshold
