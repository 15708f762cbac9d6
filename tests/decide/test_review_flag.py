"""The review flag: a pick is doubtful when the symmetry estimate picks another slice or the runner-up is close."""

from __future__ import annotations

import numpy as np

from lss.decide.review_flag import candidate_margin, needs_review


def test_two_nearly_equal_candidates_are_flagged_and_a_clear_winner_is_not() -> None:
    close, clear = np.log([0.05, 0.48, 0.47]), np.log([0.05, 0.9, 0.05])
    assert np.isclose(candidate_margin(close), 0.01)
    assert needs_review(close, symmetry_pick=1, min_margin=0.2)
    assert not needs_review(clear, symmetry_pick=1, min_margin=0.2)


def test_a_clear_pick_the_symmetry_estimate_disagrees_with_is_flagged() -> None:
    assert needs_review(np.log([0.05, 0.9, 0.05]), symmetry_pick=2, min_margin=0.2)


def test_a_one_slice_series_has_nothing_to_confuse_its_pick_with() -> None:
    assert not needs_review(np.array([0.0]), symmetry_pick=0, min_margin=0.5)
