"""The whole analysis on a real store: files, the MLflow analysis run, analyze.py, a real tiny sweep."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from helpers import unpadded
from helpers.mlflow_runs import EXPERIMENT, write_messy_sweep
from helpers.training import REPO
from lss.analysis.report import ANALYSIS_RUN_IDS_TAG, run_analysis
from lss.analysis.schema import METRICS


@pytest.fixture(scope="module")
def messy_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    tracking_uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    write_messy_sweep(tracking_uri)
    return tracking_uri


def test_the_full_report_on_a_messy_store(messy_store: str, tmp_path: Path, capsys):
    report = run_analysis(tmp_path / "analysis", messy_store, EXPERIMENT)

    printed = capsys.readouterr().out
    assert "Runs used per modality: T1 = 6, T2 = 5" in printed
    assert "| Accuracy |" in unpadded(printed) and "Table 3, done right" in printed
    names = sorted(path.name for path in report.files)
    assert names == sorted(
        [
            "runs.csv",
            "val_accuracy_history.csv",
            "table3.csv",
            "table3.md",
            "table3.tex",
            "fig6_t1_boxplot.png",
            "fig7_t2_boxplot.png",
            "t1_vs_t2_runs.png",
            "baseline.csv",
            "baseline.md",
            "fig5_val_accuracy.png",
        ]
    )
    assert all(path.stat().st_size > 0 for path in report.files)
    table = pd.read_csv(tmp_path / "analysis" / "table3.csv", index_col="metric")
    assert list(table.index) == list(METRICS.values())
    assert not table[["paper_p", "nb_p", "nb_p_holm", "t1_mean", "t2_mean"]].isna().any().any()
    assert "\\begin{tabular}" in (tmp_path / "analysis" / "table3.tex").read_text()

    client = MlflowClient(messy_store)
    analysis_run = client.get_run(report.analysis_run_id)
    assert analysis_run.data.tags["lss.kind"] == "analysis"
    used = pd.read_csv(tmp_path / "analysis" / "runs.csv")["run_id"]
    assert analysis_run.data.tags[ANALYSIS_RUN_IDS_TAG].split(",") == used.tolist()
    logged = {a.path for a in client.list_artifacts(report.analysis_run_id)}
    assert {"table3.csv", "runs.csv", "fig5_val_accuracy.png"} <= logged


def test_analyze_py_reads_the_store_and_folder_from_hydra_overrides(
    messy_store: str, tmp_path: Path, monkeypatch, capsys
):
    monkeypatch.syspath_prepend(str(REPO))
    import analyze

    monkeypatch.setattr(
        sys,
        "argv",
        [
            "analyze.py",
            f"mlflow.tracking_uri={messy_store}",
            f"mlflow.experiment_name={EXPERIMENT}",
            "sweep_id=sweep-a",
            "log_to_mlflow=false",
            f"output_dir={tmp_path / 'out'}",
            f"hydra.run.dir={tmp_path / 'hydra'}",
        ],
    )
    analyze.main()
    assert "## Table 3 (paper protocol" in capsys.readouterr().out
    assert (tmp_path / "out" / "table3.md").exists()
