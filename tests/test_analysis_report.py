"""From runs to Table 3: the two protocols on small frames, then the whole report on a real store."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_analysis_runs import EXPERIMENT, messy_store  # noqa: F401 - fixture

from lss.analysis import protocols, runs, tables
from lss.analysis.report import run_analysis
from lss.analysis.schema import METRICS
from lss.tracking import client_for


def runs_frame(t1: list[float], t2: list[float], split_by: str = "patient",
               same_partitions: bool = True) -> pd.DataFrame:
    """A tidy runs frame (the shape runs.resolve_sweep returns): one seed per position."""
    rows = [{"run_id": f"{modality}-{seed}", "modality": modality, "seed": seed,
             "split_by": split_by, "n_train": 80, "n_test": 20,
             "partition_id": f"p{seed}" if same_partitions or modality == "T1" else f"q{seed}",
             **{metric: value for metric in METRICS}}
            for modality, values in (("T1", t1), ("T2", t2)) for seed, value in enumerate(values)]
    return pd.DataFrame(rows)


T1 = [0.90, 0.91, 0.89, 0.90, 0.92, 0.88]
T2 = [0.93, 0.94, 0.92, 0.93, 0.95, 0.92]


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


def test_the_paper_protocol_falls_back_to_welch_when_variances_differ():
    steady, noisy = [0.90, 0.901, 0.899, 0.900, 0.902, 0.898], [0.80, 0.99, 0.85, 0.97, 0.90, 0.95]
    assert (protocols.paper_protocol(runs_frame(steady, noisy))["paper_test"]
            == "Welch's t-test").all()
    assert (protocols.paper_protocol(runs_frame(T1, T2))["paper_test"] == "Student's t-test").all()


def test_conclusions_say_whether_the_papers_claim_holds():
    table = protocols.table3(runs_frame(T1, T2))
    sentences = protocols.conclusions(table)
    assert "which supports the paper's claim" in sentences["paper"]
    assert sentences["corrected"].startswith("Done right (corrected resampled t (paired by seed)")
    same = protocols.conclusions(protocols.table3(runs_frame(T1, T1[::-1])))
    assert "does not support" in same["paper"] and "no significant difference" in same["corrected"]


def test_zero_variance_runs_give_a_table_without_nan():
    table = protocols.table3(runs_frame([0.9] * 4, [1.0] * 4))
    assert not table.select_dtypes("number").isna().any().any()
    assert "inf" in tables.render_markdown(table, protocols.conclusions(table))


def test_the_full_report_on_a_messy_store(messy_store, tmp_path: Path, capsys):  # noqa: F811
    tracking_uri, _ = messy_store
    report = run_analysis(tmp_path / "analysis", tracking_uri, EXPERIMENT)

    printed = capsys.readouterr().out
    assert "Runs used per modality: T1 = 6, T2 = 5" in printed
    assert "| Accuracy |" in printed and "Table 3, done right" in printed
    names = sorted(path.name for path in report.files)
    assert names == sorted(["runs.csv", "val_accuracy_history.csv", "table3.csv", "table3.md",
                            "table3.tex", "fig6_t1_boxplot.png", "fig7_t2_boxplot.png",
                            "t1_vs_t2_runs.png", "fig5_val_accuracy.png"])
    assert all(path.stat().st_size > 0 for path in report.files)
    table = pd.read_csv(tmp_path / "analysis" / "table3.csv", index_col="metric")
    assert list(table.index) == list(METRICS.values())
    assert not table.select_dtypes("number").isna().any().any()
    assert "\\begin{tabular}" in (tmp_path / "analysis" / "table3.tex").read_text()

    analysis_run = client_for(tracking_uri).get_run(report.analysis_run_id)
    assert analysis_run.data.tags["lss.kind"] == "analysis"
    used = pd.read_csv(tmp_path / "analysis" / "runs.csv")["run_id"]
    assert analysis_run.data.tags[runs.ANALYSIS_RUN_IDS_TAG].split(",") == used.tolist()
    logged = {a.path for a in client_for(tracking_uri).list_artifacts(report.analysis_run_id)}
    assert {"table3.csv", "runs.csv", "fig5_val_accuracy.png"} <= logged


def test_analyze_py_reads_the_store_and_folder_from_hydra_overrides(messy_store, tmp_path,  # noqa: F811
                                                                    monkeypatch, capsys):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import analyze

    monkeypatch.setattr(sys, "argv", [
        "analyze.py", f"mlflow.tracking_uri={messy_store[0]}",
        f"mlflow.experiment_name={EXPERIMENT}", "sweep_id=sweep-a", "log_to_mlflow=false",
        f"output_dir={tmp_path / 'out'}", f"hydra.run.dir={tmp_path / 'hydra'}"])
    analyze.main()
    assert "## Table 3 (paper protocol" in capsys.readouterr().out
    assert (tmp_path / "out" / "table3.md").exists()


def test_analysis_of_a_real_tiny_sweep(tiny_sweep: dict, tmp_path: Path) -> None:
    """Runs written by a real `train.py -m seed=0,1,2 modality=T1,T2` (3 runs per group, the minimum)."""
    report = run_analysis(tmp_path / "analysis", tiny_sweep["tracking_uri"], tiny_sweep["experiment_name"])
    assert len(report.selection.runs) == 6
    assert set(report.selection.runs["modality"]) == {"T1", "T2"}
    assert report.table["pairing"].iloc[0].startswith("paired by seed: 3 seeds")  # patient split: paired
    assert not report.table[["paper_p", "nb_p", "nb_p_holm", "t1_mean", "t2_mean"]].isna().any().any()
    for name in ("table3.csv", "table3.md", "table3.tex", "runs.csv", "fig5_val_accuracy.png", "fig6_t1_boxplot.png", "fig7_t2_boxplot.png"):
        assert (tmp_path / "analysis" / name).stat().st_size > 0, name
    assert report.analysis_run_id is not None
