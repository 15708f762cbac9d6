"""The centre-rule baseline and the series-level metrics against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lss.decide.evaluation import rule_and_series_metrics
from lss.manifest import mid_band


def series(uid: str, n_slices: int, true_mid: int, p_mid_peak: int) -> pd.DataFrame:
    """A whole test series, 4 mm apart, its Mid band around ``true_mid``, p_mid peaking at ``p_mid_peak``."""
    index = np.arange(n_slices)
    band = mid_band(true_mid, n_slices, 5)
    return pd.DataFrame(
        {
            "sop_uid": [f"{uid}.{i}" for i in index],
            "series_uid": uid,
            "slice_index": index,
            "n_slices": n_slices,
            "slice_location_mm": 4.0 * (index - true_mid),
            "is_mid_sagittal": index == true_mid,
            "label": ["Mid" if i in band else "Lateral" for i in index],
            "p_mid": np.exp(-0.5 * (index - p_mid_peak) ** 2),
        }
    )


@pytest.fixture
def two_off_centre_series() -> pd.DataFrame:
    """A: 9 slices, true mid 5 (centre 4). B: 7 slices, true mid 4 (centre 3). The model's p_mid peaks on the truth."""
    return pd.concat([series("A", 9, 5, 5), series("B", 7, 4, 4)], ignore_index=True)


def test_series_metrics_the_band_finds_both_true_mid_slices_the_centre_rule_misses_both_by_one_slice(
    two_off_centre_series: pd.DataFrame,
) -> None:
    metrics = rule_and_series_metrics(two_off_centre_series, band_size=5, whole_series=True)
    assert metrics["test/mid_hit"] == 1.0 and metrics["test/mid_error_mm"] == 0.0
    assert metrics["test/mid_hit_centre"] == 0.0 and metrics["test/mid_error_mm_centre"] == 4.0
    assert metrics["test/accuracy_band"] == 1.0


def test_per_slice_metrics_of_the_centre_rule_by_hand(two_off_centre_series: pd.DataFrame) -> None:
    """Centre bands A 2..6 (truth 3..7), B 1..5 (truth 2..6): TP 8, FP 2, FN 2, TN 4 of 16 slices.

    Accuracy 12/16; Mid P = R = F = 0.8; Lateral P = R = F = 2/3; macro P = R = F1 = (0.8 + 2/3) / 2.
    """
    metrics = rule_and_series_metrics(two_off_centre_series, band_size=5, whole_series=True)
    assert metrics["test/accuracy_centre"] == pytest.approx(12 / 16)
    for name in ("precision", "recall", "f1"):
        assert metrics[f"test/{name}_centre"] == pytest.approx((0.8 + 2 / 3) / 2)


def test_a_split_by_image_gets_the_centre_rule_but_no_band_or_series_metrics(two_off_centre_series: pd.DataFrame):
    some_slices = two_off_centre_series.iloc[::2]
    metrics = rule_and_series_metrics(some_slices, band_size=5, whole_series=False)
    assert set(metrics) == {f"test/{name}_centre" for name in ("accuracy", "precision", "recall", "f1")}
