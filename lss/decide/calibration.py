"""How far p_mid can be trusted: one temperature fitted on the validation slices (temperature scaling,
Guo et al. 2017), the expected calibration error (ECE) before and after it, and a reliability diagram.

Dividing both logits by one positive temperature never changes which is larger, so the paper's
metrics (Eqs 1-7) and every Mid decision stay as they were; only how sure p_mid says it is changes.

ECE here: the confidence of a slice is the probability of the class the one rule gives it
(p_mid when p_mid > 0.5, else 1 - p_mid); slices fall into ``ECE_BINS`` equal-width bins of
confidence; ECE is the sum over bins of |accuracy - mean confidence| weighted by the bin's share of
the slices (torchmetrics' MulticlassCalibrationError; the reliability table draws the same bins).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar
from torchmetrics.classification import MulticlassCalibrationError

from lss.decide.mid_rule import is_mid

ECE_BINS = 15


def fit_temperature(scores: torch.Tensor, truth: torch.Tensor, bounds: tuple[float, float]) -> float:
    """The temperature T within ``bounds`` minimising the NLL of ``softmax(scores / T)`` at the true candidates.

    One row of ``scores`` per validation sample (a slice's two logits; a series' candidate slices, -inf where
    padded), ``truth`` the index of each row's true candidate. The NLL is convex in 1/T, so a bounded search on
    log T finds its minimum and cannot diverge; the bounds stop T where perfectly separated validation samples
    would pull it towards 0. Give it the validation part only: whatever it is given shapes the temperature.
    """
    scores, truth = scores.detach().double().cpu(), truth.detach().long().cpu()
    if not len(truth):
        return 1.0

    def negative_log_likelihood(log_temperature: float) -> float:
        return float(F.cross_entropy(scores / math.exp(log_temperature), truth))

    low, high = (math.log(bound) for bound in bounds)
    fitted = minimize_scalar(negative_log_likelihood, bounds=(low, high), method="bounded", options={"xatol": 1e-4})
    return float(math.exp(fitted.x))


def reliability_table(p_mid: ArrayLike, is_mid_truth: ArrayLike, n_bins: int = ECE_BINS) -> pd.DataFrame:
    """Per confidence bin: its edges, how many slices, their mean confidence and accuracy (NaN when empty)."""
    p_mid, truth = np.asarray(p_mid, dtype=np.float64), np.asarray(is_mid_truth, dtype=bool)
    decided = is_mid(p_mid)
    confidence = np.where(decided, p_mid, 1.0 - p_mid)
    correct = decided == truth
    bins = np.clip(np.ceil(confidence * n_bins).astype(int) - 1, 0, n_bins - 1)
    rows = []
    for index in range(n_bins):
        members = bins == index
        rows.append(
            {
                "lower": index / n_bins,
                "upper": (index + 1) / n_bins,
                "count": int(members.sum()),
                "confidence": float(confidence[members].mean()) if members.any() else float("nan"),
                "accuracy": float(correct[members].mean()) if members.any() else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def expected_calibration_error(p_mid: ArrayLike, is_mid_truth: ArrayLike, n_bins: int = ECE_BINS) -> float:
    """Top-label ECE of [1 - p_mid, p_mid]: torchmetrics' ``MulticlassCalibrationError(norm="l1")`` (NaN when empty).

    Its bins are [k/15, (k+1)/15) with exactly 1.0 apart, the reliability table's (k/15, (k+1)/15]: the two
    agree except for confidences exactly on a bin edge.
    """
    p = torch.as_tensor(np.asarray(p_mid, dtype=np.float64))
    if p.numel() == 0:
        return float("nan")
    metric = MulticlassCalibrationError(num_classes=2, n_bins=n_bins, norm="l1")
    metric.update(torch.stack([1.0 - p, p], dim=1), torch.as_tensor(np.asarray(is_mid_truth, dtype=np.int64)))
    return float(metric.compute())


def plot_reliability(tables: dict[str, pd.DataFrame], title: str, path: Path) -> None:
    """One panel per table (e.g. before / after temperature scaling): accuracy per bin against the diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(tables), figsize=(3.4 * len(tables), 3.4), dpi=120, squeeze=False)
    for axis, (name, table) in zip(axes.flat, tables.items()):
        filled = table[table["count"] > 0]
        width = float(table["upper"].iloc[0] - table["lower"].iloc[0])
        axis.bar(filled["lower"], filled["accuracy"], width=width, align="edge", color="tab:blue", label="accuracy")
        axis.bar(
            filled["lower"],
            filled["confidence"] - filled["accuracy"],
            bottom=filled["accuracy"],
            width=width,
            align="edge",
            color="tab:red",
            alpha=0.3,
            label="gap to confidence",
        )
        axis.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
        axis.set_xlim(0.5, 1.0)  # two classes: the decided class always has probability >= 0.5
        axis.set_ylim(0, 1)
        axis.set_xlabel("confidence (probability of the decided class)")
        axis.set_ylabel("accuracy")
        axis.set_title(name, fontsize=9)
        axis.legend(fontsize=7, loc="upper left")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
