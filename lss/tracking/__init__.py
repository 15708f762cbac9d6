"""The only place that talks to MLflow; every other room gets plain values and DataFrames.

``store``: where the store is, retries, the experiment. ``identity``: tags, config hash, resume,
dead-run reaping. ``runs``: open / log / end runs and read them back. ``ui``: the MLflow UI.
``logger``: Lightning's logger, kept apart so that code reading runs does not import Lightning.
``datasets``: the data a run saw, as a dataset input. ``models``: the tested network as an MLflow model,
registered versions, loading it back.
"""

from lss.tracking.datasets import log_dataset
from lss.tracking.identity import (
    ANALYSIS_KIND,
    COMMIT_TAG,
    CONFIG_HASH_TAG,
    DATA_SOURCE_TAG,
    ERROR_TAG,
    JOB_TAG,
    KIND_TAG,
    SWEEP_TAG,
    TRAIN_KIND,
    close_dead_runs,
    config_hash,
    design_keys,
    find_finished_run,
    flatten,
    git_commit,
)
from lss.tracking.models import load_logged_model, log_tested_model
from lss.tracking.runs import (
    best_train_run,
    download_run_checkpoint,
    log_artifacts,
    log_metrics,
    log_params,
    metric_history,
    runs_frame,
    tracked_run,
)
from lss.tracking.store import ensure_experiment, resolve_tracking_uri

__all__ = [
    "ANALYSIS_KIND",
    "COMMIT_TAG",
    "CONFIG_HASH_TAG",
    "DATA_SOURCE_TAG",
    "ERROR_TAG",
    "JOB_TAG",
    "KIND_TAG",
    "SWEEP_TAG",
    "TRAIN_KIND",
    "best_train_run",
    "close_dead_runs",
    "config_hash",
    "design_keys",
    "download_run_checkpoint",
    "ensure_experiment",
    "find_finished_run",
    "flatten",
    "git_commit",
    "load_logged_model",
    "log_artifacts",
    "log_dataset",
    "log_metrics",
    "log_params",
    "log_tested_model",
    "metric_history",
    "resolve_tracking_uri",
    "runs_frame",
    "tracked_run",
]
