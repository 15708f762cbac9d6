"""The learned series scorer on constructed embeddings: where each slice's embedding says how far it is from the mid."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from lss.decide.series_scorer import (
    LabelledSeries,
    ScorerParams,
    candidate_logits,
    distance_bins,
    fit_series_scorer,
    log_p_with_prior,
    mid_plane_mm,
    slice_logits,
    sub_stack_bounds,
    with_all_components,
)

FEATURES = 24
PARAMS = ScorerParams(components=8, l2=1e-3)


def constructed_series(count: int, mid: int, seed: int, spacing_mm: float = 4.0) -> LabelledSeries:
    """Slices whose (non-negative) embeddings carry a profile of their distance to the mid slice, plus noise."""
    rng = np.random.default_rng(seed)
    profile = np.linspace(1.0, 2.0, FEATURES)[None, :]
    distance = np.abs(np.arange(count) - mid)[:, None]
    embeddings = 1.0 + profile * np.exp(-distance / 2.0) + rng.normal(scale=0.05, size=(count, FEATURES))
    return LabelledSeries(np.clip(embeddings, 0.0, None) ** 2, spacing_mm * (np.arange(count) - mid), mid)


@pytest.fixture(scope="module")
def scorer():
    training = [constructed_series(15, mid, seed) for seed, mid in enumerate((4, 7, 10, 5, 9, 7))]
    return fit_series_scorer(training, PARAMS)


def test_the_pick_is_the_mid_slice_of_a_stack_whose_mid_lies_4_slices_off_centre(scorer) -> None:
    series = constructed_series(17, 4, seed=99)
    assert int(np.argmax(slice_logits(scorer, series.embeddings, series.positions_mm))) == 4


def test_reversed_slice_order_gives_the_same_slice(scorer) -> None:
    series = constructed_series(17, 12, seed=98)
    forward = slice_logits(scorer, series.embeddings, series.positions_mm)
    backward = slice_logits(scorer, series.embeddings[::-1], series.positions_mm[::-1])
    assert np.allclose(forward, backward[::-1])
    assert int(np.argmax(forward)) == 12


def test_positions_not_the_file_order_decide_which_slice_is_next_to_which(scorer) -> None:
    series = constructed_series(15, 6, seed=97)
    shuffled = np.random.default_rng(0).permutation(15)
    logits = slice_logits(scorer, series.embeddings[shuffled], series.positions_mm[shuffled])
    assert int(shuffled[np.argmax(logits)]) == 6


def test_a_label_free_score_given_at_fitting_must_be_given_at_scoring() -> None:
    training = [constructed_series(15, mid, seed) for seed, mid in enumerate((4, 7, 10))]
    with_score = [replace(item, label_free=-np.abs(item.positions_mm)) for item in training]
    fitted = fit_series_scorer(with_score, PARAMS)
    series = constructed_series(15, 7, seed=96)
    label_free = -np.abs(series.positions_mm)
    assert int(np.argmax(slice_logits(fitted, series.embeddings, series.positions_mm, label_free))) == 7
    with pytest.raises(ValueError, match="label_free"):
        slice_logits(fitted, series.embeddings, series.positions_mm)
    with pytest.raises(ValueError, match="label_free"):
        fit_series_scorer([with_score[0], training[1]], PARAMS)


def test_mean_pooling_is_blind_to_how_many_slices_lie_at_each_distance() -> None:
    """A candidate with many far slices outscores one with few under sums of a positive far-bin term, not means."""
    positions = 4.0 * np.arange(12)
    params = replace(PARAMS, bins=3)
    terms = torch.tensor(np.tile([0.0, 0.0, 1.0], (12, 1)))
    bins = torch.from_numpy(distance_bins(positions, params))
    summed, averaged = candidate_logits(terms, bins, "sum").numpy(), candidate_logits(terms, bins, "mean").numpy()
    assert summed[0] > summed[6]
    assert np.allclose(averaged, averaged[0])


def test_sub_stacks_keep_the_whole_stack_and_slices_either_side_of_the_mid() -> None:
    bounds = sub_stack_bounds(count=14, mid=3, max_dropped=4, crops=50, rng=np.random.default_rng(0))
    assert bounds[0] == (0, 0) and len(bounds) == 51
    assert all(low <= 1 and high <= 4 for low, high in bounds)
    assert {high for _, high in bounds} == set(range(5))


def test_a_prior_that_rules_a_slice_out_outweighs_the_learned_preference_for_it() -> None:
    logits = np.array([3.0, 2.0, 0.0])
    prior = np.array([0.0, 0.9, 0.1])
    assert int(np.argmax(log_p_with_prior(logits, prior, 1.0))) == 1
    assert np.allclose(log_p_with_prior(logits, prior, 0.0), logits - np.log(np.exp(logits).sum()))


def test_the_mid_plane_lies_between_two_equally_likely_slices() -> None:
    positions = np.array([-8.0, -4.0, 0.0, 4.0, 8.0])
    assert mid_plane_mm(np.array([0.0, 1.0, 5.0, 1.0, 0.0]), positions) == pytest.approx(0.0)
    assert mid_plane_mm(np.array([0.0, 0.0, 5.0, 5.0, 0.0]), positions) == pytest.approx(2.0, abs=0.1)


def test_a_scorer_padded_to_all_its_components_scores_as_the_one_fitted_on_fewer_training_slices() -> None:
    training = [constructed_series(5, 2, seed) for seed in range(3)]
    label_free = [np.linspace(-1.0, 1.0, 5) for _ in training]
    params = ScorerParams(components=32, neighbours=1)
    fitted = fit_series_scorer([replace(item, label_free=score) for item, score in zip(training, label_free)], params)
    padded = with_all_components(fitted)
    assert fitted.projection.shape[1] < 32 and padded.projection.shape == (FEATURES, 32)
    series = constructed_series(9, 3, seed=99)
    score = np.linspace(0.0, 1.0, 9)
    assert np.allclose(
        slice_logits(padded, series.embeddings, series.positions_mm, score),
        slice_logits(fitted, series.embeddings, series.positions_mm, score),
    )
