"""Model vs centre rule: paired by run, the corrected resampled t, Holm per modality, lower-is-better errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lss.analysis.baseline import baseline_table, render_markdown

MODEL_F1 = [0.90, 0.93, 0.88, 0.91]
CENTRE_F1 = [0.85, 0.86, 0.84, 0.88]


def runs_with_baseline(model_f1: list[float], centre_f1: list[float], series_metrics: bool = True) -> pd.DataFrame:
    rows = []
    for modality in ("T1", "T2"):
        for seed, (model, centre) in enumerate(zip(model_f1, centre_f1)):
            rows.append(
                {
                    "modality": modality,
                    "seed": seed,
                    "n_train": 80,
                    "n_test": 20,
                    "accuracy": model,
                    "f1": model,
                    "accuracy_centre": centre,
                    "f1_centre": centre,
                    "accuracy_band": model + 0.01,
                    "f1_band": model + 0.01,
                    "mid_hit": 0.9 if series_metrics else np.nan,
                    "mid_hit_centre": 0.5 if series_metrics else np.nan,
                    "mid_hit_1": 1.0 - 0.05 * seed if series_metrics else np.nan,
                    "mid_hit_1_centre": 0.8 if series_metrics else np.nan,
                    "mid_error_mm": 1.0 + seed if series_metrics else np.nan,
                    "mid_error_mm_centre": 4.0 + 2 * seed if series_metrics else np.nan,
                }
            )
    return pd.DataFrame(rows)


def test_each_model_metric_is_compared_with_the_centre_rule_on_the_same_runs_by_hand() -> None:
    table = baseline_table(runs_with_baseline(MODEL_F1, CENTRE_F1)).set_index(["modality", "metric"])
    row = table.loc[("T2", "F1 (independent)")]
    d = np.subtract(MODEL_F1, CENTRE_F1)  # paired within each run; Nadeau-Bengio with n_test/n_train = 1/4
    assert row["difference"] == pytest.approx(d.mean())
    assert row["t"] == pytest.approx(d.mean() / math.sqrt((1 / 4 + 20 / 80) * d.var(ddof=1)))
    assert row["df"] == 3 and row["better"] == "model"
    assert table.loc[("T1", "mid_error_mm (band)"), "better"] == "model"  # a smaller error is better
    assert table.loc[("T2", "mid_hit (band)"), "undefined"] == "zero variance"  # 0.9 vs 0.5 in every run
    within_one = table.loc[("T1", "mid_hit_1 (band)")]  # within one slice: the selector's second goal
    assert within_one["difference"] == pytest.approx(np.mean([1.0 - 0.05 * seed for seed in range(4)]) - 0.8)
    defined = table.xs("T2")["p"].dropna()
    assert (table.xs("T2").loc[defined.index, "p_holm"] >= defined).all()


def test_without_whole_series_only_the_per_slice_comparisons_are_made_and_the_sentence_says_so() -> None:
    table = baseline_table(runs_with_baseline(MODEL_F1, CENTRE_F1, series_metrics=False))
    assert not table["metric"].str.startswith("mid_").any()
    assert "T2: the model is significantly better than the centre rule on" in render_markdown(table, 0.05)
