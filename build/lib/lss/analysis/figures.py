"""Figs. 5-7 of the paper, plus the T1-vs-T2 view the paper's claim needs (runs drawn as dots).

Each function takes tidy frames and a path, writes one PNG and returns the path; matplotlib's
Agg backend keeps it usable on headless machines.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from lss.analysis.schema import METRICS
from lss.manifest import MODALITIES, T1, T2

COLOURS = {T1: "tab:blue", T2: "tab:orange"}


def _save(figure: plt.Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=150)
    plt.close(figure)
    return path


def _runs_over_boxes(axes: plt.Axes, samples: list[np.ndarray], positions: list[float], colours: list[str]) -> None:
    """Box (min-max whiskers, quartiles, median, as Figs. 6-7 describe) with every run as a dot."""
    axes.boxplot(
        samples, positions=positions, widths=0.5, whis=(0, 100), showfliers=False, medianprops={"color": "black"}
    )
    jitter = np.random.default_rng(0)  # same dots on every redraw
    for sample, position, colour in zip(samples, positions, colours):
        offsets = jitter.uniform(-0.12, 0.12, len(sample))
        axes.scatter(position + offsets, sample, s=14, color=colour, alpha=0.8, zorder=3)


def metric_boxplot(runs: pd.DataFrame, modality: str, path: Path) -> Path:
    """Fig. 6 (T1) / Fig. 7 (T2): the four test metrics of one modality over its runs."""
    rows = runs[runs["modality"] == modality]
    figure, axes = plt.subplots(figsize=(6, 4))
    _runs_over_boxes(
        axes,
        [rows[m].to_numpy(float) for m in METRICS],
        list(range(1, len(METRICS) + 1)),
        [COLOURS[modality]] * len(METRICS),
    )
    axes.set_xticks(range(1, len(METRICS) + 1), list(METRICS.values()))
    axes.set_ylabel("score on the test set")
    axes.set_title(f"{modality}: classification performance over {len(rows)} runs")
    return _save(figure, path)


def modality_comparison(runs: pd.DataFrame, path: Path) -> Path:
    """T1 and T2 side by side per metric, so the size of the difference against the run-to-run
    spread is visible at a glance (the paper shows the modalities in separate figures)."""
    figure, panels = plt.subplots(1, len(METRICS), figsize=(3 * len(METRICS), 3.6), sharey=True)
    for axes, (metric, label) in zip(panels, METRICS.items()):
        _runs_over_boxes(
            axes,
            [runs.loc[runs["modality"] == m, metric].to_numpy(float) for m in MODALITIES],
            [1, 2],
            [COLOURS[m] for m in MODALITIES],
        )
        axes.set_xticks([1, 2], list(MODALITIES))
        axes.set_title(label)
    panels[0].set_ylabel("score on the test set (one dot per run)")
    return _save(figure, path)


def validation_accuracy(history: pd.DataFrame, path: Path) -> Path:
    """Fig. 5: validation accuracy per epoch, mean over seeds with a +/- 1 sd band."""
    figure, axes = plt.subplots(figsize=(6, 4))
    for modality in MODALITIES:
        per_epoch = (
            history[history["modality"] == modality].groupby("epoch")["val_accuracy"].agg(["mean", "std", "count"])
        )
        if per_epoch.empty:
            continue
        spread = per_epoch["std"].fillna(0.0)
        axes.plot(
            per_epoch.index,
            per_epoch["mean"],
            marker="o",
            color=COLOURS[modality],
            label=f"{modality} (mean of {per_epoch['count'].max()} runs, band ±1 sd, clipped to [0, 1])",
        )
        axes.fill_between(
            per_epoch.index,
            (per_epoch["mean"] - spread).clip(lower=0.0),
            (per_epoch["mean"] + spread).clip(upper=1.0),
            color=COLOURS[modality],
            alpha=0.2,
        )
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("validation accuracy")
    axes.legend(loc="lower right")
    return _save(figure, path)
