"""Writing to a run straight to the store (``journal`` sends through these) and reading runs back as DataFrames."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities import Metric, Param, RunStatus
from mlflow.exceptions import MlflowException

from lss.errors import UserError
from lss.tracking.identity import KIND_TAG, TRAIN_KIND
from lss.tracking.store import client_for, experiment_id, fluent_tracking_uri, with_retries

CHECKPOINT_ARTIFACTS = "checkpoint"
CONFIG_ARTIFACT = "config.yaml"
"""The run's resolved config."""
SPLIT_ARTIFACT = "split.json"
"""The run's partition: which patients and series it trained, validated and tested on (lss.data.split_file)."""
PREDICTIONS_ARTIFACT = "test_predictions.csv"
MAX_TAG_CHARACTERS = 5000


@contextlib.contextmanager
def active_run(tracking_uri: str, run_id: str) -> Iterator[None]:
    """MLflow's fluent API (log_model, log_input) logs to the active run: make ``run_id`` active, then hand it
    back still RUNNING, since ``tracked_run`` owns its status."""
    with fluent_tracking_uri(tracking_uri):
        mlflow.start_run(run_id=run_id)
        try:
            yield
        finally:
            mlflow.end_run(RunStatus.to_string(RunStatus.RUNNING))


def log_params(tracking_uri: str, run_id: str, params: dict[str, Any]) -> None:
    client = client_for(tracking_uri)
    items = [Param(key, str(value)[:6000]) for key, value in params.items()]
    for start in range(0, len(items), 100):
        with_retries(functools.partial(client.log_batch, run_id, params=items[start : start + 100]))


def log_metrics(tracking_uri: str, run_id: str, metrics: dict[str, float], step: int, timestamp_ms: int) -> None:
    client = client_for(tracking_uri)
    items = [Metric(key, float(value), timestamp_ms, step) for key, value in metrics.items()]
    with_retries(lambda: client.log_batch(run_id, metrics=items))


def log_artifacts(tracking_uri: str, run_id: str, path: Path, artifact_path: str | None = None) -> None:
    """A file or every file of a folder, under ``artifact_path`` of the run."""
    client = client_for(tracking_uri)
    if Path(path).is_dir():
        with_retries(lambda: client.log_artifacts(run_id, str(path), artifact_path))
    else:
        with_retries(lambda: client.log_artifact(run_id, str(path), artifact_path))


def runs_frame(tracking_uri: str, experiment_name: str, filter_string: str = "") -> pd.DataFrame | None:
    """Every matching run as MLflow's own DataFrame (``params.*``, ``metrics.*``, ``tags.*`` columns);
    None when the experiment does not exist."""
    found = experiment_id(tracking_uri, experiment_name)
    if found is None:
        return None
    with fluent_tracking_uri(tracking_uri):
        frame = mlflow.search_runs([found], filter_string, output_format="pandas")
    assert isinstance(frame, pd.DataFrame)
    return frame


def metric_history(tracking_uri: str, run_ids: list[str], key: str) -> pd.DataFrame:
    """``run_id, step, value`` of one metric's history for each run (step = epoch for epoch metrics)."""
    client = client_for(tracking_uri)
    records = [
        {"run_id": run_id, "step": point.step, "value": point.value}
        for run_id in run_ids
        for point in client.get_metric_history(run_id, key)
    ]
    return pd.DataFrame(records, columns=["run_id", "step", "value"])


def best_train_run(
    tracking_uri: str, experiment_name: str, metric: str = "test/f1", modality: str | None = None
) -> str | None:
    """The FINISHED training run (of one modality) with the highest ``metric``: the model a demo deploys."""
    found = experiment_id(tracking_uri, experiment_name)
    if found is None:
        return None
    query = f"attributes.status = 'FINISHED' and tags.`{KIND_TAG}` = '{TRAIN_KIND}'" + (
        f" and params.modality = '{modality}'" if modality else ""
    )
    runs = client_for(tracking_uri).search_runs([found], query, order_by=[f"metrics.`{metric}` DESC"], max_results=1)
    return runs[0].info.run_id if runs else None


def download_run_checkpoint(tracking_uri: str, run_id: str, dst_dir: Path) -> tuple[Path, dict[str, Path]]:
    """The weights (``checkpoint/*.ckpt``) a training run logged, and those of its ``config.yaml`` and ``split.json``
    it logged (by name), copied into dst_dir."""
    client = client_for(tracking_uri)
    try:
        client.get_run(run_id)
    except MlflowException as error:
        raise UserError(
            f"run_id={run_id} is not a run in {tracking_uri}; "
            "check the id in the MLflow UI (make ui) or set mlflow.tracking_uri="
        ) from error
    checkpoints = sorted(
        item.path for item in client.list_artifacts(run_id, CHECKPOINT_ARTIFACTS) if item.path.endswith(".ckpt")
    )
    if not checkpoints:
        raise UserError(
            f"run {run_id} logged no checkpoint artifact (trained with log_checkpoint=false?); "
            "retrain with log_checkpoint=true or pass checkpoint=PATH"
        )
    dst_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = Path(client.download_artifacts(run_id, checkpoints[0], str(dst_dir)))
    logged = {item.path for item in client.list_artifacts(run_id)}
    return checkpoint, {
        name: Path(client.download_artifacts(run_id, name, str(dst_dir)))
        for name in (CONFIG_ARTIFACT, SPLIT_ARTIFACT)
        if name in logged
    }


@dataclass(frozen=True)
class RunOutcome:
    """What a FINISHED training run logged, as plain values: what a re-run of it is compared with."""

    run_id: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    config: Path
    """Its resolved config.yaml, downloaded."""
    predictions: Path | None
    """Its test_predictions.csv, downloaded (None when it logged none)."""


def finished_run_outcome(tracking_uri: str, run_id: str, dst_dir: Path) -> RunOutcome:
    """The outcome of FINISHED training run ``run_id``, its config and test predictions copied into ``dst_dir``;
    one line naming the problem for an unknown run, a run that did not finish, or one that logged no config."""
    client = client_for(tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as error:
        raise UserError(
            f"run_id={run_id} is not a run in {tracking_uri}; check the id (make ui) or the store"
        ) from error
    if run.info.status != RunStatus.to_string(RunStatus.FINISHED):
        raise UserError(
            f"run {run_id} is {run.info.status}, not FINISHED: only a finished run has the metrics to compare with"
        )
    logged = {item.path for item in client.list_artifacts(run_id)}
    if CONFIG_ARTIFACT not in logged:
        raise UserError(f"run {run_id} logged no {CONFIG_ARTIFACT}, so its config cannot be re-run")
    dst_dir.mkdir(parents=True, exist_ok=True)

    def download(name: str) -> Path:
        return Path(client.download_artifacts(run_id, name, str(dst_dir)))

    return RunOutcome(
        run_id,
        dict(run.data.params),
        dict(run.data.metrics),
        dict(run.data.tags),
        download(CONFIG_ARTIFACT),
        download(PREDICTIONS_ARTIFACT) if PREDICTIONS_ARTIFACT in logged else None,
    )
