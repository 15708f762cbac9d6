"""Real Hydra multiruns through ``python train.py -m ...``: one MLflow run per job, DDP, launchers, analysis."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from helpers.training import TEST_METRICS, finished_runs, run_train, tiny_overrides
from lss.analysis.report import run_analysis
from lss.decide.evaluation import TESTED_COLUMNS


@pytest.mark.slow
def test_tiny_sweep_leaves_one_finished_run_per_job(tiny_sweep: dict) -> None:
    runs = finished_runs(tiny_sweep["tracking_uri"])
    assert len(runs) == 6 and set(runs["status"]) == {"FINISHED"}
    assert sorted(zip(runs["params.modality"], runs["params.seed"])) == sorted(
        (m, s) for m in ("T1", "T2") for s in "012"
    )
    for column in [
        f"metrics.{name}" for name in (*TEST_METRICS, "val/accuracy", "val/loss", "train/loss", "test/accuracy_band")
    ]:
        assert runs[column].notna().all(), column
    for column in (
        "params.model.backbone",
        "params.data.split_by",
        "params.split.n_test",
        "params.split.partition_id",
        "tags.lss.sweep_id",
        "tags.lss.job_num",
        "tags.mlflow.source.git.commit",
    ):
        assert runs[column].notna().all(), column
    assert runs["tags.lss.sweep_id"].nunique() == 1
    assert sorted(runs["tags.lss.job_num"].astype(int)) == list(range(6))
    # patient-grouped splits: T1 and T2 of one seed share the partition, seeds differ
    partitions = runs.groupby("params.seed")["params.split.partition_id"].nunique()
    assert (partitions == 1).all() and runs["params.split.partition_id"].nunique() == 3


@pytest.mark.slow
def test_tiny_sweep_logs_curves_and_artifacts(tiny_sweep: dict) -> None:
    client = MlflowClient(tiny_sweep["tracking_uri"])
    run_id = finished_runs(tiny_sweep["tracking_uri"])["run_id"].iloc[0]
    history = client.get_metric_history(run_id, "val/accuracy")
    assert [point.step for point in history] == [0, 1]  # one point per epoch, logged once
    artifacts = {item.path for item in client.list_artifacts(run_id)}
    assert {
        "config.yaml",
        "confusion_matrix.csv",
        "confusion_matrix.png",
        "test_predictions.csv",
        "reliability_diagram.png",
        "checkpoint",
    } <= artifacts
    predictions = pd.read_csv(client.download_artifacts(run_id, "test_predictions.csv"))
    assert list(predictions.columns) == [*TESTED_COLUMNS, "p_mid"]


@pytest.mark.slow
def test_ddp_inside_a_multirun_runs_each_job_once(phantom_dir: Path, tmp_path: Path) -> None:
    """Lightning #11300: DDP children must not re-launch the sweep. 2 jobs x 2 CPU processes."""

    run_train(
        [
            "-m",
            "seed=0,1",
            *tiny_overrides(phantom_dir, tmp_path),
            "trainer.accelerator=cpu",
            "trainer.devices=2",
            "trainer.strategy=ddp",
        ]
    )
    runs = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert len(runs) == 2 and set(runs["status"]) == {"FINISHED"}
    assert sorted(runs["params.seed"]) == ["0", "1"]
    assert runs["metrics.test/accuracy"].notna().all()
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    for run_id in runs["run_id"]:
        assert [point.step for point in client.get_metric_history(run_id, "val/accuracy")] == [0, 1]
        assert len(client.get_metric_history(run_id, "test/accuracy")) == 1
    job_dirs = sorted(path.name for path in (tmp_path / "multirun").iterdir() if path.is_dir())
    assert job_dirs == ["0", "1"]
    assert not (tmp_path / "run").exists()  # children wrote into their job's folder, nowhere else


@pytest.mark.slow
def test_submitit_local_launcher_runs_a_sweep(phantom_dir: Path, tmp_path: Path) -> None:
    """One job is enough to show submitit runs it in a process of its own and it tracks as usual."""
    run_train(["-m", "seed=0", "hydra/launcher=local", *tiny_overrides(phantom_dir, tmp_path)])
    runs = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert list(runs["params.seed"]) == ["0"] and list(runs["status"]) == ["FINISHED"]
    assert list((tmp_path / "multirun" / ".submitit").glob("*/*_result.pkl"))  # submitit ran the job


@pytest.mark.slow
def test_analysis_of_a_real_tiny_sweep(tiny_sweep: dict, tmp_path: Path) -> None:
    """Runs written by a real `train.py -m seed=0,1,2 modality=T1,T2` (3 runs per group, the minimum)."""
    report = run_analysis(tmp_path / "analysis", tiny_sweep["tracking_uri"], tiny_sweep["experiment_name"])
    assert len(report.selection.runs) == 6
    assert set(report.selection.runs["modality"]) == {"T1", "T2"}
    assert report.table["pairing"].iloc[0].startswith("paired by seed: 3 seeds")  # patient split: paired
    assert not report.table[["paper_p", "t1_mean", "t2_mean"]].isna().any().any()
    for name in (
        "table3.csv",
        "table3.md",
        "table3.tex",
        "runs.csv",
        "fig5_val_accuracy.png",
        "fig6_t1_boxplot.png",
        "fig7_t2_boxplot.png",
    ):
        assert (tmp_path / "analysis" / name).stat().st_size > 0, name
    assert (
        "phantom data" in report.conclusions["corrected"].lower()
        and "says nothing about the paper's claim" in report.conclusions["paper"]
    )
    assert report.analysis_run_id is not None


@pytest.mark.slow
def test_ddp_on_four_cpu_processes_at_the_papers_global_batch_of_ten(phantom_dir: Path, tmp_path: Path) -> None:
    """``trainer=ddp`` with 4 gloo processes and data.batch_size=10 (per-rank 3, 3, 2, 2): one FINISHED run."""
    run_train(
        [
            *tiny_overrides(phantom_dir, tmp_path),
            "trainer=ddp",
            "trainer.accelerator=cpu",
            "trainer.devices=4",
            "data.batch_size=10",
            "trainer.max_epochs=1",
        ]
    )
    runs = finished_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert list(runs["status"]) == ["FINISHED"]
    assert runs["metrics.test/accuracy"].notna().all() and runs["params.trainer.devices"].tolist() == ["4"]
