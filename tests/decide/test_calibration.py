"""Calibration: ECE against values worked out by hand, and a temperature that recovers a known overconfidence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lss.decide.calibration import (
    ECE_BINS,
    expected_calibration_error,
    fit_temperature,
    reliability_table,
)
from lss.model.module import MidSliceClassifier, p_mid_of

BOUNDS = MidSliceClassifier.temperature_bounds


def test_ece_of_four_slices_by_hand() -> None:
    """p_mid 0.9, 0.9, 0.25, 0.62 against Mid, Lateral, Lateral, Lateral.

    Decided Mid, Mid, Lateral, Mid with confidence 0.9, 0.9, 0.75, 0.62, correct 1, 0, 1, 0. Fifteen bins
    of width 1/15: 0.9 in (13/15, 14/15], 0.75 in (11/15, 12/15], 0.62 in (9/15, 10/15].
    ECE = 2/4 |0.5 - 0.9| + 1/4 |1 - 0.75| + 1/4 |0 - 0.62| = 0.2 + 0.0625 + 0.155 = 0.4175.
    """
    p_mid, truth = [0.9, 0.9, 0.25, 0.62], [True, False, False, False]
    assert expected_calibration_error(p_mid, truth) == pytest.approx(0.4175)
    table = reliability_table(p_mid, truth)
    assert len(table) == ECE_BINS and table["count"].sum() == 4
    assert table.loc[13, ["count", "confidence", "accuracy"]].tolist() == pytest.approx([2, 0.9, 0.5])
    assert table.loc[11, ["count", "accuracy"]].tolist() == [1, 1.0] and table.loc[9, "count"] == 1


def test_a_bin_whose_accuracy_equals_its_confidence_has_no_calibration_error() -> None:
    """Ten slices at p_mid 0.7 of which seven are Mid: 70% right at 70% confidence."""
    # torchmetrics bins in float32: 0.7 is 0.69999999 there
    assert expected_calibration_error([0.7] * 10, [True] * 7 + [False] * 3) == pytest.approx(0.0, abs=1e-6)


def test_a_tie_is_a_lateral_decision_at_confidence_one_half() -> None:
    table = reliability_table([0.5], [False])
    filled = table[table["count"] > 0]
    assert filled["confidence"].tolist() == [0.5] and filled["accuracy"].tolist() == [1.0]


def test_the_fitted_temperature_undoes_a_known_overconfidence_and_lowers_the_ece() -> None:
    """Labels drawn with P(Mid) = sigmoid(z), logits 3z: the network is 3x too sure, so T is about 3."""
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(20_000, generator=generator) * 2
    targets = (torch.rand(20_000, generator=generator) < torch.sigmoid(z)).long()
    logits = torch.stack([torch.zeros_like(z), 3 * z], dim=1)
    temperature = fit_temperature(logits, targets, BOUNDS)
    assert temperature == pytest.approx(3.0, rel=0.05)
    truth = targets.numpy() == 1
    before = expected_calibration_error(p_mid_of(logits).numpy(), truth)
    after = expected_calibration_error(p_mid_of(logits, temperature).numpy(), truth)
    assert after < 0.02 < 0.1 < before
    assert np.array_equal(p_mid_of(logits).numpy() > 0.5, p_mid_of(logits, temperature).numpy() > 0.5)


def test_perfectly_separated_logits_sharpen_p_mid_but_the_temperature_stays_within_its_range() -> None:
    """Every validation slice right: the NLL falls with T, so T heads for 0 until the range (or flatness) stops it."""
    logits = torch.tensor([[0.0, 2.0], [0.0, 3.0], [0.0, -2.0], [0.0, -1.0]])
    assert BOUNDS[0] <= fit_temperature(logits, torch.tensor([1, 1, 0, 0]), BOUNDS) < 0.1


def test_torchmetrics_ece_equals_the_ece_of_the_reliability_table_it_replaced() -> None:
    """The hand-written ECE (sum over the reliability table's bins) and MulticlassCalibrationError agree, from
    unsure to saturated logits (p_mid exactly 1.0)."""
    generator = torch.Generator().manual_seed(0)
    for scale in (1.0, 5.0, 40.0):
        logits, targets = (
            torch.randn(500, 2, generator=generator) * scale,
            torch.randint(0, 2, (500,), generator=generator),
        )
        p_mid, truth = p_mid_of(logits).numpy(), (targets == 1).numpy()
        table = reliability_table(p_mid, truth)
        filled = table[table["count"] > 0]
        by_table = float(
            (filled["count"] / filled["count"].sum() * (filled["accuracy"] - filled["confidence"]).abs()).sum()
        )
        assert expected_calibration_error(p_mid, truth) == pytest.approx(by_table, abs=1e-6)
