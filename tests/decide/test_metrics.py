"""The paper's metrics (Eqs 1-7) against a confusion matrix worked by hand."""

from __future__ import annotations

import pytest
import torch

from lss.decide.metrics import metrics_of_labels


def test_eqs_1_to_7_are_accuracy_and_macro_averages_with_f1_the_mean_of_per_class_f1() -> None:
    """True Mid: 30 called Mid, 10 Lateral. True Lateral: 20 called Mid, 40 Lateral.

    Mid: P 30/50 = 0.6, R 30/40 = 0.75, F 2/3. Lateral: P 40/50 = 0.8, R 40/60 = 2/3, F 8/11.
    Eq 1 A = 70/100; Eq 2 P = 0.7; Eq 3 R = (0.75 + 2/3)/2; Eq 4 F = (2/3 + 8/11)/2 = 0.69697, which is
    neither micro F1 (0.70), weighted F1 (0.70303) nor the F1 of macro P and R (0.70414).
    """
    target = torch.tensor([1] * 40 + [0] * 60)
    predicted = torch.tensor([1] * 30 + [0] * 10 + [1] * 20 + [0] * 40)
    metrics = metrics_of_labels(predicted, target, prefix="test/")
    assert metrics["test/accuracy"] == pytest.approx(0.70)
    assert metrics["test/precision"] == pytest.approx(0.70)
    assert metrics["test/recall"] == pytest.approx((0.75 + 2 / 3) / 2)
    assert metrics["test/f1"] == pytest.approx((2 / 3 + 8 / 11) / 2)
    for other_average in (0.70, 0.4 * 2 / 3 + 0.6 * 8 / 11, 2 * 0.7 * (0.75 + 2 / 3) / 2 / (0.7 + (0.75 + 2 / 3) / 2)):
        assert metrics["test/f1"] != pytest.approx(other_average, abs=1e-4)


def test_the_confusion_matrix_of_torchmetrics_counts_what_the_hand_written_count_did() -> None:
    import numpy as np

    from lss.decide.confusion import confusion_table

    rng = np.random.default_rng(0)
    targets, predicted = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    by_hand = np.zeros((2, 2), dtype=int)
    np.add.at(by_hand, (targets, predicted), 1)  # the count confusion_table made before MulticlassConfusionMatrix
    table = confusion_table(targets, predicted)
    assert (table.to_numpy() == by_hand).all()
    assert list(table.index) == ["true_Lateral", "true_Mid"] and list(table.columns) == ["pred_Lateral", "pred_Mid"]
