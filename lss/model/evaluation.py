"""What a run reports about its test slices beyond the paper's four metrics: the band rule, the confusion matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lss.manifest import MID
from lss.model.confusion import confusion_table, plot_confusion
from lss.model.metrics import metrics_of_labels
from lss.model.mid_rule import choose_mid, is_mid

TESTED_COLUMNS = ["sop_uid", "series_uid", "slice_index", "label"]
"""Slice identity and truth of test_predictions.csv, before the model's p_mid."""


def tested_slices(slices: pd.DataFrame, rows: np.ndarray, p_mid: np.ndarray) -> pd.DataFrame:
    """Per-slice test predictions; slice identifiers only, never a patient identifier."""
    return slices.iloc[rows][TESTED_COLUMNS].reset_index(drop=True).assign(p_mid=p_mid)


def band_metrics(predictions: pd.DataFrame, band_size: int) -> dict[str, float]:
    """The paper's metrics of the same test predictions under the band rule: ``test/<metric>_band``."""
    decided = choose_mid(predictions, "band", band_size).to_numpy().astype(np.int64)
    target = (predictions["label"] == MID).to_numpy().astype(np.int64)
    return metrics_of_labels(torch.from_numpy(decided), torch.from_numpy(target), prefix="test/", suffix="_band")


def write_confusion(predictions: pd.DataFrame, title: str, folder: Path) -> None:
    """confusion_matrix.csv and .png of the per-slice decisions (the one Mid rule, ``is_mid``)."""
    table = confusion_table((predictions["label"] == MID).astype(int), is_mid(predictions["p_mid"]).astype(int))
    table.to_csv(folder / "confusion_matrix.csv")
    plot_confusion(table, title, folder / "confusion_matrix.png")
