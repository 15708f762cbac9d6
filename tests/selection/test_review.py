"""Which series the review page flags: an unsure band, a second band as plausible as the chosen one, or a label-free
second opinion that picks another mid slice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.stacks import mirrored_stack
from lss.decide.mid_rule import choose_mid
from lss.selection.review import band_p_mid, competing_band, label_free_pick, review_reasons


def series_of(p_mid: list[float], rule: str = "band") -> pd.DataFrame:
    """One series in slice order with the band rule's (5 slices) labels."""
    table = pd.DataFrame({"series_uid": "s", "slice_index": np.arange(len(p_mid)), "p_mid": p_mid})
    return table.assign(label=np.where(choose_mid(table, rule, 5), "Mid", "Lateral"))


def test_a_sure_band_with_nothing_like_it_elsewhere_is_not_flagged() -> None:
    series = series_of([0.05, 0.1, 0.2, 0.7, 0.9, 0.95, 0.9, 0.7, 0.2, 0.1, 0.05, 0.02])
    assert band_p_mid(series) == (0.7 + 0.9 + 0.95 + 0.9 + 0.7) / 5
    assert review_reasons(series, 5, 0.5) == ""


def test_a_band_whose_mean_p_mid_is_below_the_threshold_is_flagged_with_its_mean() -> None:
    series = series_of([0.1, 0.2, 0.3, 0.4, 0.45, 0.4, 0.3, 0.2, 0.1, 0.1])  # band 2-6, mean 0.37
    assert review_reasons(series, 5, 0.5) == "chosen band's mean p_mid 0.37 < 0.5"
    assert review_reasons(series, 5, 0.3) == ""  # the threshold is the user's


def test_a_second_band_sharing_no_slice_with_the_chosen_one_and_as_sure_is_flagged_with_where_it_is() -> None:
    """Slices 1-5 are chosen (mean 0.9); slices 8-12 reach a mean of 0.8: two plausible mid-sagittal regions."""
    series = series_of([0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.8, 0.8, 0.8, 0.8, 0.8, 0.1])
    assert list(series.loc[series["label"] == "Mid", "slice_index"]) == [1, 2, 3, 4, 5]
    assert competing_band(series, 5, 0.5) == (8, 12, pytest.approx(0.8))
    assert review_reasons(series, 5, 0.5) == "competing band at slices 8-12 (mean p_mid 0.80)"


def test_windows_overlapping_the_chosen_band_do_not_compete_with_it() -> None:
    """A broad peak: windows shifted by a slice or two score well but share slices with the chosen band."""
    series = series_of([0.1, 0.3, 0.8, 0.9, 0.95, 0.95, 0.9, 0.8, 0.3, 0.1, 0.05])
    assert competing_band(series, 5, 0.5) is None and review_reasons(series, 5, 0.5) == ""


def test_under_the_independent_rule_a_series_with_no_mid_slice_is_flagged() -> None:
    series = series_of([0.1, 0.2, 0.3, 0.2, 0.1, 0.1], rule="independent")
    assert (series["label"] == "Lateral").all()
    assert review_reasons(series, 5, 0.5) == "no slice chosen as Mid"


def test_a_pick_the_label_free_selector_disagrees_with_is_flagged_with_its_slice() -> None:
    """The images mirror about slice 7; a model sure of slice 4 is flagged, one that chose slice 7 is not."""
    positions = np.arange(12) * 4.0
    images = mirrored_stack(positions, plane_mm=28.0)
    series = series_of([0.05, 0.2, 0.9, 0.95, 0.99, 0.95, 0.9, 0.2, 0.05, 0.02, 0.01, 0.01]).assign(
        slice_location_mm=positions
    )
    assert label_free_pick(series, images) == 7
    assert review_reasons(series, 5, 0.5, chosen_mid=4, second_opinion=7) == (
        "the label-free selector picks slice 7, not 4"
    )
    assert review_reasons(series, 5, 0.5, chosen_mid=7, second_opinion=7) == ""
    assert label_free_pick(series.iloc[:2], images[:2]) is None  # too short to mirror
    assert label_free_pick(series.assign(slice_location_mm=np.nan), images) is None  # no positions to mirror about
