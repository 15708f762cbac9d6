"""MLflow store, runs and tags: location, run lifecycle, resume lookup, the UI.

Why this exists: MLflow has traps that every caller would otherwise rediscover —
Lightning's MLFlowLogger reads ``MLFLOW_TRACKING_URI`` once at import (so we always pass the
URI explicitly), MLflow >= 3.13 refuses the old ``./mlruns`` file store (so the default is
SQLite), a crashed job leaves its run RUNNING (so runs end FAILED on exceptions and stale
RUNNING runs are closed at the next start), and parallel jobs race on SQLite migrations
(so the store is initialised once, with retries).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import mlflow
from mlflow.entities import RunStatus
from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

DEFAULT_STORE = Path("outputs") / "mlflow.db"
KIND_TAG = "lss.kind"
SWEEP_TAG = "lss.sweep_id"
JOB_TAG = "lss.job_num"
CONFIG_HASH_TAG = "lss.config_hash"
COMMIT_TAG = "mlflow.source.git.commit"
ERROR_TAG = "lss.error"
"""Why a FAILED run failed: the exception's message."""

T = TypeVar("T")


def resolve_tracking_uri(uri: str | None = None) -> str:
    """Explicit URI > ``MLFLOW_TRACKING_URI`` > SQLite store ``outputs/mlflow.db`` under the cwd."""
    if uri:
        return uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{DEFAULT_STORE.resolve()}"


def artifact_root_for(tracking_uri: str) -> str | None:
    """Artifacts of a local SQLite store live beside it (``mlflow.db`` -> ``mlartifacts/``)."""
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts").resolve().as_uri()
    return None


def with_retries(action: Callable[[], T], attempts: int = 8, first_wait_s: float = 0.2) -> T:
    """SQLite answers 'database is locked' while another job writes; back off and retry."""
    for attempt in range(attempts):
        try:
            return action()
        except Exception as error:  # noqa: BLE001 - MLflow wraps sqlite errors in several types
            transient = "locked" in str(error).lower() or "busy" in str(error).lower()
            if not transient or attempt == attempts - 1:
                raise
            time.sleep(first_wait_s * 2**attempt)
    raise AssertionError("unreachable")


def client_for(tracking_uri: str) -> MlflowClient:
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=tracking_uri)


def ensure_experiment(tracking_uri: str, experiment_name: str) -> str:
    """Create the store (runs its migrations) and the experiment once; return the experiment id."""
    client = client_for(tracking_uri)

    def get_or_create() -> str:
        experiment = client.get_experiment_by_name(experiment_name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return client.create_experiment(experiment_name, artifact_location=_experiment_artifacts(tracking_uri, experiment_name))
        except Exception:  # another job created it between our two calls
            experiment = client.get_experiment_by_name(experiment_name)
            if experiment is None:
                raise
            return experiment.experiment_id

    return with_retries(get_or_create)


def _experiment_artifacts(tracking_uri: str, experiment_name: str) -> str | None:
    root = artifact_root_for(tracking_uri)
    return f"{root}/{experiment_name}" if root else None


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


HOST_TAG = "lss.host"
PID_TAG = "lss.pid"


def owner_tags() -> dict[str, str]:
    """Who runs this job: lets a later start tell a crashed run from one still running elsewhere."""
    return {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def close_dead_runs(tracking_uri: str, experiment_name: str) -> list[str]:
    """Mark KILLED the RUNNING runs whose process on this host is gone (SIGKILL, OOM, power loss).

    Runs owned by another host are left alone: their process cannot be checked from here.
    """
    client = client_for(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    host = socket.gethostname()
    dead = [
        run.info.run_id
        for run in client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'", max_results=10_000)
        if run.data.tags.get(HOST_TAG) == host
        and run.data.tags.get(PID_TAG, "").isdigit()
        and not _process_alive(int(run.data.tags[PID_TAG]))
    ]
    for run_id in dead:
        with_retries(lambda run_id=run_id: client.set_terminated(run_id, RunStatus.to_string(RunStatus.KILLED)))
    return dead


def find_finished_run(tracking_uri: str, experiment_name: str, config_hash: str) -> str | None:
    """The newest FINISHED training run with this resolved-config hash, if any (resume)."""
    client = client_for(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return None
    runs = client.search_runs(
        [experiment.experiment_id],
        f"attributes.status = 'FINISHED' and tags.`{CONFIG_HASH_TAG}` = '{config_hash}' and tags.`{KIND_TAG}` = 'train'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None


@contextlib.contextmanager
def tracked_run(
    tracking_uri: str,
    experiment_name: str,
    run_name: str,
    tags: dict[str, str],
    params: dict[str, Any],
) -> Iterator[str]:
    """Open a run, yield its id, end it FINISHED on success and FAILED on any exception."""
    experiment_id = ensure_experiment(tracking_uri, experiment_name)
    client = client_for(tracking_uri)
    run = with_retries(lambda: client.create_run(experiment_id, run_name=run_name, tags={**tags, **owner_tags()}))
    run_id = run.info.run_id
    try:
        log_params(client, run_id, params)
        yield run_id
    except BaseException as error:
        with_retries(lambda: client.set_tag(run_id, ERROR_TAG, (str(error) or type(error).__name__)[:5000]))
        with_retries(lambda: client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED)))
        raise
    with_retries(lambda: client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED)))


def log_params(client: MlflowClient, run_id: str, params: dict[str, Any]) -> None:
    items = [mlflow.entities.Param(key, str(value)[:6000]) for key, value in params.items()]
    for start in range(0, len(items), 100):
        with_retries(lambda start=start: client.log_batch(run_id, params=items[start : start + 100]))


def serve_ui(tracking_uri: str, host: str = "127.0.0.1", port: int = 5000) -> None:
    """Serve the MLflow UI over the same store; loopback only unless a host is given."""
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", tracking_uri, "--host", host, "--port", str(port)]
    artifacts = artifact_root_for(tracking_uri)
    if artifacts:
        command += ["--default-artifact-root", artifacts]
    print(f"MLflow UI on http://{host}:{port}  (store: {tracking_uri})")
    subprocess.run(command, check=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lss.tracking", description="lss MLflow utilities.")
    sub = parser.add_subparsers(dest="command", required=True)
    ui = sub.add_parser("ui", help="serve the MLflow UI over lss's store")
    ui.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI or sqlite:///outputs/mlflow.db")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    serve_ui(resolve_tracking_uri(args.tracking_uri), args.host, args.port)


def download_run_checkpoint(tracking_uri: str, run_id: str, dst_dir: Path) -> tuple[Path, Path | None]:
    """The weights (``checkpoint/*.ckpt``) and resolved ``config.yaml`` a training run logged, copied into dst_dir."""
    from mlflow.exceptions import MlflowException

    client = client_for(tracking_uri)
    try:
        client.get_run(run_id)
    except MlflowException as error:
        raise LookupError(f"run_id={run_id} is not a run in {tracking_uri}; check the id in the MLflow UI (python -m lss.tracking ui) or set mlflow.tracking_uri=") from error
    checkpoints = sorted(item.path for item in client.list_artifacts(run_id, "checkpoint") if item.path.endswith(".ckpt"))
    if not checkpoints:
        raise FileNotFoundError(f"run {run_id} logged no checkpoint artifact (trained with log_checkpoint=false?); retrain with log_checkpoint=true or pass checkpoint=PATH")
    dst_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = Path(client.download_artifacts(run_id, checkpoints[0], str(dst_dir)))
    logged = {item.path for item in client.list_artifacts(run_id)}
    config = Path(client.download_artifacts(run_id, "config.yaml", str(dst_dir))) if "config.yaml" in logged else None
    return checkpoint, config


def best_train_run(tracking_uri: str, experiment_name: str, metric: str = "test/f1", modality: str | None = None) -> str | None:
    """The FINISHED training run (of one modality) with the highest ``metric``: the model a demo deploys."""
    client = client_for(tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return None
    query = f"attributes.status = 'FINISHED' and tags.`{KIND_TAG}` = 'train'" + (f" and params.modality = '{modality}'" if modality else "")
    runs = client.search_runs([experiment.experiment_id], query, order_by=[f"metrics.`{metric}` DESC"], max_results=1)
    return runs[0].info.run_id if runs else None
