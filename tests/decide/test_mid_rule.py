"""The Mid rules on hand-made probability sequences: the band lands where the Mid slices are; a tie is Lateral."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lss.decide.mid_rule import best_band, choose_mid, is_mid
from lss.errors import ConfigError

LOW, HIGH = 0.1, 0.9


def sequence(n: int, mid: range) -> np.ndarray:
    p_mid = np.full(n, LOW)
    p_mid[list(mid)] = HIGH
    return p_mid


@pytest.mark.parametrize(
    ("n", "mid", "expected"),
    [
        (15, range(5, 10), (5, 10)),  # the middle of the series
        (15, range(0, 5), (0, 5)),  # at the first edge
        (15, range(10, 15), (10, 15)),  # at the last edge
        (15, range(0, 3), (0, 5)),  # a band cut by the edge: the window stays inside the series
        (15, range(13, 15), (10, 15)),
    ],
)
def test_band_covers_the_confident_mid_slices(n: int, mid: range, expected: tuple[int, int]) -> None:
    assert best_band(sequence(n, mid), band_size=5) == expected


def test_band_outweighs_an_isolated_false_positive() -> None:
    """One lateral slice with a very high p_mid cannot pull the window away from five moderate ones."""
    p_mid = np.full(15, 0.05)
    p_mid[8:13] = 0.7
    p_mid[1] = 0.999
    assert best_band(p_mid, band_size=5) == (8, 13)


def test_band_fills_a_gap_inside_the_mid_slices() -> None:
    p_mid = sequence(15, range(5, 10))
    p_mid[7] = 0.3  # the middle slice missed by the classifier is still selected
    assert best_band(p_mid, band_size=5) == (5, 10)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_a_series_no_longer_than_the_window_is_all_mid(n: int) -> None:
    assert best_band(np.full(n, LOW), band_size=5) == (0, n)


def test_ties_take_the_first_window_and_width_one_takes_the_argmax() -> None:
    assert best_band(np.full(9, 0.5), band_size=3) == (0, 3)
    assert best_band(np.array([0.2, 0.4, 0.95, 0.3]), band_size=1) == (2, 3)


def test_probabilities_of_exactly_zero_and_one_do_not_break_the_sums() -> None:
    assert best_band(np.array([0.0, 0.0, 1.0, 1.0, 1.0, 0.0]), band_size=3) == (2, 5)


def test_width_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="band_size"):
        best_band(np.full(4, 0.5), band_size=0)


def test_choose_mid_works_per_series_in_slice_order_whatever_the_row_order() -> None:
    """Two interleaved series with slice indices not starting at 0: each gets its own window."""
    a = pd.DataFrame({"series_uid": "a", "slice_index": np.arange(10, 25), "p_mid": sequence(15, range(2, 7))})
    b = pd.DataFrame({"series_uid": "b", "slice_index": np.arange(4), "p_mid": [0.2, 0.6, 0.7, 0.1]})
    table = pd.concat([a, b], ignore_index=True).sample(frac=1.0, random_state=0)
    band = choose_mid(table, "band", band_size=5)
    assert band.index.equals(table.index)
    chosen = table[band]
    assert sorted(chosen.loc[chosen["series_uid"] == "a", "slice_index"]) == list(range(12, 17))
    assert sorted(chosen.loc[chosen["series_uid"] == "b", "slice_index"]) == [0, 1, 2, 3]


def test_the_independent_rule_calls_mid_above_one_half_and_a_tie_lateral() -> None:
    table = pd.DataFrame({"series_uid": "a", "slice_index": range(4), "p_mid": [0.2, 0.5, 0.7, 0.51]})
    assert choose_mid(table, "independent", 5).tolist() == [False, False, True, True]


def test_one_rule_for_mid_a_tie_is_lateral_in_metrics_confusion_and_the_independent_rule() -> None:
    """Equal logits give p_mid = 0.5 exactly: every place that decides Mid must call it Lateral, as argmax does."""
    import torch

    from lss.decide.confusion import confusion_table
    from lss.model.module import p_mid_of, predicted_class

    tied = torch.tensor([[1.5, 1.5], [0.0, 2.0]])
    p_mid = p_mid_of(tied).numpy()
    assert p_mid[0] == 0.5
    assert predicted_class(tied).tolist() == [0, 1] == tied.argmax(dim=1).tolist()
    assert is_mid(p_mid).tolist() == [False, True]
    table = pd.DataFrame({"series_uid": "a", "slice_index": [0, 1], "p_mid": p_mid})
    assert choose_mid(table, "independent", 5).tolist() == [False, True]
    counts = confusion_table(np.array([1, 1]), is_mid(p_mid).astype(int))
    assert counts.loc["true_Mid"].tolist() == [1, 1]  # the tie counted as predicted Lateral


def test_an_unknown_rule_is_refused() -> None:
    table = pd.DataFrame({"series_uid": ["a"], "slice_index": [0], "p_mid": [0.5]})
    with pytest.raises(ConfigError, match="one of independent, band, centre"):
        choose_mid(table, "viterbi", 5)  # type: ignore[arg-type]  # the wrong value is the point


def test_the_centre_rule_marks_the_centre_slice_and_its_neighbours_whatever_p_mid_says() -> None:
    """15 slices: centre 7, band 5..9; 8 slices: centre 3 (the lower of two), band 1..5; a subset keeps its own."""
    table = pd.DataFrame(
        {
            "series_uid": ["a"] * 15 + ["b"] * 8,
            "slice_index": [*range(15), *range(8)],
            "n_slices": [15] * 15 + [8] * 8,
            "p_mid": 0.99,
        }
    )
    centre = choose_mid(table, "centre", 5)
    assert table.loc[centre & (table["series_uid"] == "a"), "slice_index"].tolist() == [5, 6, 7, 8, 9]
    assert table.loc[centre & (table["series_uid"] == "b"), "slice_index"].tolist() == [1, 2, 3, 4, 5]
    subset = table[table["slice_index"].isin([0, 6, 9, 10])]  # a split by image tests only some slices
    assert choose_mid(subset, "centre", 5).tolist() == [False, True, True, False, False, False]
