"""What every series selector shares: a slice's p_mid from the candidates' scores, and their temperature."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lss.decide.calibration import fit_temperature
from lss.decide.series import band_membership, candidate_p_mid, padded_candidates
from lss.model.series_selector import SeriesMidSelector


def test_band_membership_is_the_probability_that_the_band_holds_each_slice() -> None:
    certain = band_membership(np.eye(11)[6], band_size=5)
    assert certain.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0]
    split = band_membership(np.array([0, 0, 0, 0, 0, 0.5, 0.5, 0, 0, 0, 0]), band_size=5)
    assert split[3] == pytest.approx(0.5) and split[4:8].tolist() == [1, 1, 1, 1] and split[8] == pytest.approx(0.5)
    assert band_membership(np.full(9, 1 / 9), band_size=5).sum() == pytest.approx(5.0)  # 5 slices Mid on average
    edge = band_membership(np.eye(9)[0], band_size=5)  # a band at the end of the stack stays inside it
    assert edge.tolist() == [1, 1, 1, 1, 1, 0, 0, 0, 0]


def test_the_temperature_fitted_on_validation_series_is_larger_when_their_scores_mislead() -> None:
    sharp = [torch.tensor([0.0, -40.0, -160.0]), torch.tensor([-40.0, 0.0, -40.0])]
    bounds = SeriesMidSelector.temperature_bounds
    confident = fit_temperature(padded_candidates(sharp), torch.tensor([0, 1]), bounds)
    misleading = fit_temperature(padded_candidates(sharp), torch.tensor([1, 0]), bounds)
    assert misleading > confident


def test_series_of_different_lengths_padded_together_keep_each_its_own_p_mid() -> None:
    scores = [torch.tensor([0.0, -1.0, -9.0]), torch.tensor([-4.0, -1.0, 0.0, -1.0, -4.0])]
    padded = padded_candidates(scores)
    assert padded.shape == (2, 5) and torch.isinf(padded[0, 3:]).all()
    together = candidate_p_mid(padded, temperature=2.0, band_size=1)
    alone = [candidate_p_mid(padded_candidates([part]), temperature=2.0, band_size=1)[0] for part in scores]
    assert [len(part) for part in together] == [3, 5]
    for joint, single, part in zip(together, alone, scores):
        assert np.allclose(joint, single) and np.allclose(joint, torch.softmax(part / 2.0, dim=0).numpy())
