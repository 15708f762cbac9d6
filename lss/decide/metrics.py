"""The paper's four metrics (Eqs 1-7) as torchmetrics, so they are synchronised correctly under DDP."""

from __future__ import annotations

import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score, MulticlassPrecision, MulticlassRecall

NUM_CLASSES = 2


def paper_metrics(prefix: str) -> MetricCollection:
    """Eq. 1 accuracy (micro); Eqs 2/5, 3/6 macro precision and recall; Eqs 4/7 macro F1 = mean of per-class F1."""
    return MetricCollection(
        {
            "accuracy": MulticlassAccuracy(NUM_CLASSES, average="micro"),
            "precision": MulticlassPrecision(NUM_CLASSES, average="macro"),
            "recall": MulticlassRecall(NUM_CLASSES, average="macro"),
            "f1": MulticlassF1Score(NUM_CLASSES, average="macro"),
        },
        prefix=prefix,
    )


def metrics_of_labels(predicted: torch.Tensor, target: torch.Tensor, prefix: str, suffix: str = "") -> dict[str, float]:
    """The same four metrics for already-decided labels (e.g. by the band rule), as plain floats."""
    collection = paper_metrics(prefix)
    collection.update(predicted, target)
    return {f"{key}{suffix}": float(value) for key, value in collection.compute().items()}
