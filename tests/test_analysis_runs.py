"""Pulling a messy sweep out of a real MLflow SQLite store, written through MLflow's own API.

``write_training_run`` follows the training side's contract (issue 3/4): tags ``lss.kind``,
``lss.sweep_id``, ``lss.job_num``; dotted params; ``test/<metric>`` finals and a per-epoch
``val/accuracy`` history. It is imported by test_analysis_report.py; once the training side
ships a tiny real sweep fixture, these tests should run on that too.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mlflow.entities import Metric, Param, RunTag

from lss.analysis import runs
from lss.tracking import client_for, ensure_experiment

EXPERIMENT = "lss-test"


def write_training_run(tracking_uri: str, modality: str, seed: int, accuracy: float,
                       status: str = "FINISHED", sweep_id: str = "sweep-a",
                       split_by: str = "patient") -> str:
    """Log one training run as the training engineer's code will, and end it with ``status``."""
    client = client_for(tracking_uri)
    run = client.create_run(ensure_experiment(tracking_uri, EXPERIMENT), tags={
        "lss.kind": "train", "lss.sweep_id": sweep_id, "lss.job_num": str(seed)})
    params = {"modality": modality, "seed": seed, "model.name": "tiny", "data.split_by": split_by,
              "split.n_train": 80, "split.n_val": 10, "split.n_test": 20,
              "split.partition_id": f"patients-{seed}"}
    now = int(time.time() * 1000)
    history = [Metric("val/accuracy", accuracy - 0.1 / (epoch + 1), now, epoch)
               for epoch in range(3)]
    finals = [] if status != "FINISHED" else [
        Metric(f"test/{name}", accuracy + offset, now, 0)
        for name, offset in (("accuracy", 0.0), ("precision", 0.005), ("recall", -0.004),
                             ("f1", 0.001))]
    client.log_batch(run.info.run_id, metrics=history + finals,
                     params=[Param(key, str(value)) for key, value in params.items()],
                     tags=[RunTag("mlflow.runName", f"{modality}-seed{seed}")])
    if status != "RUNNING":
        client.set_terminated(run.info.run_id, status)
    return run.info.run_id


T1_ACCURACY = [0.90, 0.91, 0.89, 0.90, 0.92, 0.88]
T2_ACCURACY = [0.93, 0.94, 0.92, 0.93, 0.95, 0.92]


def write_messy_sweep(tracking_uri: str) -> dict[str, str]:
    """Six seeds; T2 seed 3 FAILED (so missing), T1 seed 6 still RUNNING, T1 seed 2 run twice."""
    for seed, (t1, t2) in enumerate(zip(T1_ACCURACY, T2_ACCURACY)):
        write_training_run(tracking_uri, "T1", seed, t1)
        write_training_run(tracking_uri, "T2", seed, t2, status="FAILED" if seed == 3 else "FINISHED")
    time.sleep(0.01)  # the re-run starts strictly later
    return {"rerun": write_training_run(tracking_uri, "T1", 2, 0.895),
            "running": write_training_run(tracking_uri, "T1", 6, 0.9, status="RUNNING")}


@pytest.fixture(scope="module")
def messy_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    tracking_uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    return tracking_uri, write_messy_sweep(tracking_uri)


def test_a_messy_sweep_is_resolved_and_every_run_accounted_for(messy_store):
    tracking_uri, special = messy_store
    selection = runs.resolve_sweep(runs.fetch_training_runs(tracking_uri, EXPERIMENT))

    assert selection.runs.groupby("modality").size().to_dict() == {"T1": 6, "T2": 5}
    t1_seed_2 = selection.runs.query("modality == 'T1' and seed == 2").iloc[0]
    assert t1_seed_2["run_id"] == special["rerun"] and t1_seed_2["accuracy"] == pytest.approx(0.895)
    assert selection.superseded["kept_run_id"].tolist() == [special["rerun"]]
    assert sorted(selection.excluded["reason"]) == ["status FAILED", "status RUNNING"]
    assert selection.missing_seeds == {"T1": [6], "T2": [3, 6]}
    summary = selection.summary()
    assert "T1 = 6, T2 = 5" in summary and "Missing seeds for T2: [3, 6]" in summary
    assert f"kept newest FINISHED run {special['rerun']}" in summary


def test_runs_carry_the_split_sizes_and_partition_for_the_corrected_test(messy_store):
    selection = runs.resolve_sweep(runs.fetch_training_runs(messy_store[0], EXPERIMENT))
    first = selection.runs.iloc[0]
    assert (first["n_train"], first["n_test"], first["split_by"]) == (80, 20, "patient")
    assert first["partition_id"] == f"patients-{first['seed']}"


def test_validation_history_has_one_point_per_epoch_and_run(messy_store):
    tracking_uri, _ = messy_store
    selection = runs.resolve_sweep(runs.fetch_training_runs(tracking_uri, EXPERIMENT))
    history = runs.validation_history(tracking_uri, selection.runs)
    assert len(history) == 3 * len(selection.runs)
    assert sorted(history["epoch"].unique()) == [0, 1, 2]


def test_the_sweep_filter_and_too_few_runs(tmp_path: Path):
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    for seed in range(3):
        write_training_run(tracking_uri, "T1", seed, 0.9, sweep_id="small")
        write_training_run(tracking_uri, "T2", seed, 0.9, sweep_id="small",
                           status="KILLED" if seed else "FINISHED")
        write_training_run(tracking_uri, "T2", seed, 0.9, sweep_id="other")

    assert len(runs.fetch_training_runs(tracking_uri, EXPERIMENT, sweep_id="other")) == 3
    with pytest.raises(ValueError, match=r"at least 3 FINISHED runs per modality.*\['T2'\]"
                                         r"(.|\n)*status KILLED"):
        runs.resolve_sweep(runs.fetch_training_runs(tracking_uri, EXPERIMENT, sweep_id="small"))
    with pytest.raises(ValueError, match=r"\['T1', 'T2'\]"):
        runs.resolve_sweep(runs.fetch_training_runs(tracking_uri, EXPERIMENT, sweep_id="nope"))


def test_an_unknown_experiment_says_where_it_looked(tmp_path: Path):
    tracking_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(ValueError, match="mlflow.experiment_name="):
        runs.fetch_training_runs(tracking_uri, "no-such-experiment")
