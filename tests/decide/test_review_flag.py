"""The review flag: a pick is doubtful when the runner-up slice scores almost as high."""

from __future__ import annotations

import numpy as np

from lss.decide.review_flag import candidate_margin, needs_review


def test_two_nearly_equal_candidates_are_flagged_and_a_clear_winner_is_not() -> None:
    close, clear = np.array([0.0, 2.0, 1.9, -1.0]), np.array([0.0, 5.0, 1.0, -1.0])
    assert np.isclose(candidate_margin(close), 0.1)
    assert needs_review(candidate_margin(close), threshold=0.5)
    assert not needs_review(candidate_margin(clear), threshold=0.5)


def test_a_one_slice_series_has_nothing_to_confuse_its_pick_with() -> None:
    assert not needs_review(candidate_margin(np.array([3.0])), threshold=0.5)
