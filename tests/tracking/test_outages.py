"""A tracking server that is away: a sweep stops in seconds before it starts, and a job that finishes during an
outage keeps its result on disk until the server is back (a real ``mlflow server`` on loopback)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from mlflow.entities.logged_model_status import LoggedModelStatus
from mlflow.tracking import MlflowClient

from helpers.mlflow_server import BOUNDED_RETRIES, MlflowServer, free_port
from helpers.training import finished_runs, run_train, start_train, tiny_overrides, wait_for_run_state


@pytest.mark.slow
def test_a_sweep_against_a_server_that_does_not_answer_stops_with_one_line_naming_it(
    phantom_dir: Path, tmp_path: Path
) -> None:
    """Before: each job waited MLflow's ~4 min of retries, then failed with five chained tracebacks."""
    uri = f"http://127.0.0.1:{free_port()}"
    args = ["-m", "seed=0,1", *tiny_overrides(phantom_dir, tmp_path), f"mlflow.tracking_uri={uri}"]
    result = run_train(args, cwd=tmp_path, check=False, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"Error: the MLflow tracking server {uri} does not answer")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "multirun" / "0").exists()  # no job started


def lss_experiment(tracking_uri: str) -> str:
    experiment = MlflowClient(tracking_uri).get_experiment_by_name("lss")
    assert experiment is not None
    return experiment.experiment_id


@pytest.mark.slow
def test_a_job_that_finishes_while_the_server_is_away_is_kept_and_sent_when_it_is_back(
    phantom_dir: Path, tmp_path: Path
) -> None:
    """Before: the finished job was left RUNNING, the next run marked it KILLED and retrained it."""
    server = MlflowServer(tmp_path / "server")
    server.start()
    try:
        args = [*tiny_overrides(phantom_dir, tmp_path), f"mlflow.tracking_uri={server.uri}"]
        job = start_train(args, tmp_path / "job.log", cwd=tmp_path, env=BOUNDED_RETRIES)
        wait_for_run_state(tmp_path / "server" / "server.db", job, ("RUNNING", "0"), poll_s=0.05)
        os.killpg(job.pid, signal.SIGSTOP)  # hold the job while the server goes away: no race with its speed
        server.stop()
        os.killpg(job.pid, signal.SIGCONT)
        assert job.wait(timeout=600) == 0, (tmp_path / "job.log").read_text()[-4000:]
        assert "is away" in (tmp_path / "job.log").read_text()
        pending = tmp_path / "outputs" / "mlflow-pending"
        assert len(list(pending.glob("*.json"))) == 1  # the finished result, on disk
        (run,) = MlflowClient(server.backend_uri).search_runs([lss_experiment(server.backend_uri)])
        assert run.info.status == "RUNNING"  # the server has not heard the end yet

        server.start()
        rerun = run_train(args, cwd=tmp_path, env=BOUNDED_RETRIES)  # the next run sends it, and resume skips the job
        assert "is now in" in rerun.stdout and "skipping" in rerun.stdout
        assert list(pending.glob("*.json")) == []
        runs = finished_runs(server.uri)
    finally:
        server.stop()
    assert list(runs["status"]) == ["FINISHED"]  # one run: kept, sent, not retrained
    assert runs[[f"metrics.test/{name}" for name in ("accuracy", "f1")]].notna().all().all()
    client = MlflowClient(server.backend_uri)
    assert [point.step for point in client.get_metric_history(runs["run_id"].item(), "val/accuracy")] == [0, 1]
    models = client.search_logged_models([lss_experiment(server.backend_uri)])
    assert [model.status for model in models] == [LoggedModelStatus.READY]
