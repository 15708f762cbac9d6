"""Confusion matrix of one run's test predictions, as CSV and PNG artifacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torchmetrics.classification import MulticlassConfusionMatrix

from lss.manifest import CLASS_NAMES


def confusion_table(targets: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """Rows = true class, columns = predicted class, in CLASS_NAMES order."""
    matrix = MulticlassConfusionMatrix(num_classes=len(CLASS_NAMES))
    matrix.update(
        torch.as_tensor(np.asarray(predicted, dtype=np.int64)), torch.as_tensor(np.asarray(targets, dtype=np.int64))
    )
    counts = matrix.compute().numpy()
    return pd.DataFrame(
        counts, index=[f"true_{name}" for name in CLASS_NAMES], columns=[f"pred_{name}" for name in CLASS_NAMES]
    )


def plot_confusion(table: pd.DataFrame, title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(3.6, 3.2), dpi=120)
    axes.imshow(table.to_numpy(), cmap="Blues")
    for (row, column), count in np.ndenumerate(table.to_numpy()):
        axes.text(column, row, str(count), ha="center", va="center", fontsize=12)
    axes.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES)
    axes.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
