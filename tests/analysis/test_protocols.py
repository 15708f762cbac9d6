"""Table 3's two protocols on small runs frames: pairing, fallbacks, degenerate data, the verdict."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from lss.analysis import protocols, tables
from lss.analysis.schema import METRICS

T1 = [0.90, 0.91, 0.89, 0.90, 0.92, 0.88]
T2 = [0.93, 0.94, 0.92, 0.93, 0.95, 0.92]


def runs_frame(
    t1: list[float],
    t2: list[float],
    split_by: str = "patient",
    same_partitions: bool = True,
    backbone: str = "inception_resnet_v2",
    data_source: str = "dicom",
    n_train: int = 80,
    n_test: int = 20,
) -> pd.DataFrame:
    """A tidy runs frame (the shape runs.resolve_sweep returns): one seed per position."""
    rows = [
        {
            "run_id": f"{modality}-{seed}",
            "modality": modality,
            "seed": seed,
            "model": backbone,
            "pretrained": "True",
            "data_source": data_source,
            "split_by": split_by,
            "n_train": n_train,
            "n_test": n_test,
            "partition_id": f"p{seed}" if same_partitions or modality == "T1" else f"q{seed}",
            **{metric: value for metric in METRICS},
        }
        for modality, values in (("T1", t1), ("T2", t2))
        for seed, value in enumerate(values)
    ]
    return pd.DataFrame(rows)


def test_runs_sharing_patient_partitions_are_paired_by_seed():
    table = protocols.table3(runs_frame(T1, T2))
    assert table["pairing"].iloc[0].startswith("paired by seed: 6 seeds")
    assert table["nb_difference"].iloc[0] == pytest.approx(np.mean(np.subtract(T2, T1)))
    assert (table["nb_df"] == 5).all()


def test_image_level_splits_get_the_unpaired_analogue_labelled_as_such():
    for frame in (runs_frame(T1, T2, split_by="image"), runs_frame(T1, T2, same_partitions=False)):
        table = protocols.table3(frame)
        assert table["pairing"].iloc[0].startswith("unpaired analogue")
        assert table["nb_test"].iloc[0] == "corrected resampled t (unpaired analogue)"


def test_paired_normality_is_checked_on_the_per_seed_differences_and_unpaired_on_each_group():
    paired = protocols.table3(runs_frame(T1, T2)).iloc[0]
    differences = np.subtract(T2, T1)
    assert paired["shapiro_p_diff"] == pytest.approx(scipy_stats.shapiro(differences).pvalue, abs=1e-12)
    assert math.isnan(paired["shapiro_p_t1"]) and math.isnan(paired["lilliefors_p_t2"])
    unpaired = protocols.table3(runs_frame(T1, T2, split_by="image")).iloc[0]
    assert unpaired["shapiro_p_t1"] == pytest.approx(scipy_stats.shapiro(T1).pvalue, abs=1e-12)
    assert math.isnan(unpaired["shapiro_p_diff"])
    view = tables.corrected_view(protocols.table3(runs_frame(T1, T2)))
    assert "Shapiro p (T2 - T1)" in view.columns and "Shapiro p (T1)" not in view.columns


def test_hedges_g_and_normality_use_only_the_matched_runs_of_the_paired_test():
    frame = runs_frame(T1, T2)
    unmatched = frame.iloc[[0]].assign(
        seed=99, run_id="T1-99", accuracy=0.5, precision=0.5, recall=0.5, f1=0.5, partition_id="p99"
    )
    with_extra = pd.concat([frame, unmatched], ignore_index=True)
    assert protocols.table3(with_extra)["hedges_g"].tolist() == pytest.approx(
        protocols.table3(frame)["hedges_g"].tolist()
    )
    assert "seeds [99] lack a partner" in protocols.table3(with_extra)["pairing"].iloc[0]


def test_the_n_test_over_n_train_ratio_reaches_the_corrected_t():
    d = np.subtract(T2, T1)
    for n_train, n_test in ((80, 20), (50, 50), (95, 5)):
        t = protocols.table3(runs_frame(T1, T2, n_train=n_train, n_test=n_test))["nb_t"].iloc[0]
        expected = d.mean() / math.sqrt((1 / len(d) + n_test / n_train) * d.var(ddof=1))
        assert t == pytest.approx(expected, rel=1e-12)
    swapped = protocols.table3(runs_frame(T1, T2, n_train=20, n_test=80))["nb_t"].iloc[0]
    assert swapped != pytest.approx(protocols.table3(runs_frame(T1, T2))["nb_t"].iloc[0])


def test_the_paper_protocol_falls_back_to_welch_when_variances_differ():
    steady, noisy = [0.90, 0.901, 0.899, 0.900, 0.902, 0.898], [0.80, 0.99, 0.85, 0.97, 0.90, 0.95]
    assert (protocols.paper_protocol(runs_frame(steady, noisy))["paper_test"] == "Welch's t-test").all()
    assert (protocols.paper_protocol(runs_frame(T1, T2))["paper_test"] == "Student's t-test").all()


def test_conclusions_say_whether_the_papers_claim_holds():
    table = protocols.table3(runs_frame(T1, T2))
    sentences = protocols.conclusions(table)
    assert "which supports the paper's claim" in sentences["paper"]
    assert sentences["corrected"].startswith("Done right (corrected resampled t (paired by seed)")
    same = protocols.conclusions(protocols.table3(runs_frame(T1, T1[::-1])))
    assert "does not support" in same["paper"] and "no significant difference" in same["corrected"]


def test_a_phantom_or_another_backbone_says_nothing_about_the_papers_claim():
    for frame, reason in (
        (runs_frame(T1, T2, data_source="phantom (patients=24 seed=0 slices=15)"), "Phantom data"),
        (runs_frame(T1, T2, backbone="test_resnet"), "Test_resnet backbone"),
    ):
        sentences = protocols.conclusions(protocols.table3(frame), caveat_text=protocols.caveat(frame))
        for sentence in sentences.values():
            assert reason in sentence and "says nothing about the paper's claim" in sentence
            assert "supports" not in sentence
    assert protocols.caveat(runs_frame(T1, T2)) == ""


def test_zero_variance_is_reported_as_undefined_and_left_out_of_the_verdict():
    """Every seed improves by exactly 0.1: the paired difference has no variance, so no test exists."""
    t1, t2 = [0.8, 0.85, 0.9, 0.82], [0.9, 0.95, 1.0, 0.92]
    table = protocols.table3(runs_frame(t1, t2))
    assert (table["nb_undefined"] == "zero variance").all()
    assert table[["nb_t", "nb_p", "nb_p_holm", "ci_low", "ci_high"]].isna().all().all()
    markdown = tables.render_markdown(table, protocols.conclusions(table))
    assert "n/a (zero variance)" in markdown and "inf" not in markdown
    sentence = protocols.conclusions(table)["corrected"]
    assert "n/a on Accuracy (zero variance)" in sentence and "does not support" in sentence
    constant = protocols.table3(runs_frame([0.9] * 4, [1.0] * 4))
    assert (constant["paper_undefined"] == "zero variance").all() and constant["hedges_g"].isna().all()
