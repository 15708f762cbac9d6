"""The only place that talks to MLflow; every other room gets plain values and DataFrames.

``store``: where the store is, retries, locks, reachability, the experiment. ``identity``: tags, config hash,
resume, dead-run reaping. ``jobs``: a job's run from "is it done" to its end status. ``journal``: what a run logs,
kept on disk until the store has it (outages), ``sync``. ``runs``: writing to and reading runs. ``ui``: the MLflow UI.
``logger``: Lightning's logger, kept apart so that code reading runs does not import Lightning.
``datasets``: the data a run saw, as a dataset input. ``models``: the tested network as an MLflow model,
registered versions, loading it back.
"""

from lss.tracking.identity import (
    ANALYSIS_KIND,
    COMMIT_TAG,
    CONFIG_HASH_TAG,
    DATA_SOURCE_TAG,
    ENVIRONMENT_TAG_PREFIX,
    ERROR_TAG,
    JOB_TAG,
    KIND_TAG,
    SPLIT_SCHEME_PARAM,
    SWEEP_TAG,
    TRAIN_KIND,
    close_dead_runs,
    config_hash,
    design_keys,
    find_finished_run,
    flatten,
    git_commit,
)
from lss.tracking.jobs import claimed_run, prepare_job, resolve_pending_dir, tracked_run
from lss.tracking.journal import TrackedRun, send_pending
from lss.tracking.models import load_logged_model
from lss.tracking.runs import (
    CONFIG_ARTIFACT,
    PREDICTIONS_ARTIFACT,
    SPLIT_ARTIFACT,
    RunOutcome,
    best_train_run,
    download_run_checkpoint,
    finished_run_outcome,
    metric_history,
    runs_frame,
)
from lss.tracking.store import ensure_experiment, resolve_tracking_uri

__all__ = [
    "ANALYSIS_KIND",
    "COMMIT_TAG",
    "CONFIG_ARTIFACT",
    "CONFIG_HASH_TAG",
    "DATA_SOURCE_TAG",
    "ENVIRONMENT_TAG_PREFIX",
    "ERROR_TAG",
    "JOB_TAG",
    "KIND_TAG",
    "PREDICTIONS_ARTIFACT",
    "SPLIT_ARTIFACT",
    "SPLIT_SCHEME_PARAM",
    "SWEEP_TAG",
    "TRAIN_KIND",
    "RunOutcome",
    "TrackedRun",
    "best_train_run",
    "claimed_run",
    "close_dead_runs",
    "config_hash",
    "design_keys",
    "download_run_checkpoint",
    "ensure_experiment",
    "find_finished_run",
    "finished_run_outcome",
    "flatten",
    "git_commit",
    "load_logged_model",
    "metric_history",
    "prepare_job",
    "resolve_pending_dir",
    "resolve_tracking_uri",
    "runs_frame",
    "send_pending",
    "tracked_run",
]
