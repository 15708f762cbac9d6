"""The learned series scorer on constructed embeddings: where each slice's embedding says how far it is from the mid."""

from __future__ import annotations

import numpy as np
import pytest

from lss.decide.series_scorer import (
    LabelledSeries,
    ScorerParams,
    embedding_symmetry,
    fit_series_scorer,
    mid_plane_mm,
    slice_logits,
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


def test_a_label_free_score_is_a_function_argument_used_at_fitting_and_scoring() -> None:
    training = [constructed_series(15, mid, seed) for seed, mid in enumerate((4, 7, 10))]
    fitted = fit_series_scorer(training, PARAMS, label_free=embedding_symmetry)
    series = constructed_series(15, 7, seed=96)
    assert int(np.argmax(slice_logits(fitted, series.embeddings, series.positions_mm, embedding_symmetry))) == 7
    with pytest.raises(ValueError, match="label_free"):
        slice_logits(fitted, series.embeddings, series.positions_mm)


def test_embedding_symmetry_peaks_on_the_slice_the_stack_mirrors_around() -> None:
    series = constructed_series(15, 9, seed=95)
    assert int(np.argmax(embedding_symmetry(series.embeddings, series.positions_mm))) == 9


def test_the_mid_plane_lies_between_two_equally_likely_slices() -> None:
    positions = np.array([-8.0, -4.0, 0.0, 4.0, 8.0])
    assert mid_plane_mm(np.array([0.0, 1.0, 5.0, 1.0, 0.0]), positions) == pytest.approx(0.0)
    assert mid_plane_mm(np.array([0.0, 0.0, 5.0, 5.0, 0.0]), positions) == pytest.approx(2.0, abs=0.1)
