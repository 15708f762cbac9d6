"""The only place that talks to MLflow. ``store``: URIs, runs, tags, the UI; ``logger``: Lightning's logger.

The logger lives apart so that code that only reads runs (analysis) does not import Lightning.
"""

from lss.tracking.store import (
    COMMIT_TAG,
    ERROR_TAG,
    CONFIG_HASH_TAG,
    HOST_TAG,
    JOB_TAG,
    KIND_TAG,
    PID_TAG,
    SWEEP_TAG,
    artifact_root_for,
    best_train_run,
    client_for,
    close_dead_runs,
    download_run_checkpoint,
    ensure_experiment,
    find_finished_run,
    git_commit,
    log_params,
    resolve_tracking_uri,
    serve_ui,
    tracked_run,
    with_retries,
)

__all__ = [
    "COMMIT_TAG", "CONFIG_HASH_TAG", "ERROR_TAG", "HOST_TAG", "JOB_TAG", "KIND_TAG", "PID_TAG", "SWEEP_TAG",
    "artifact_root_for", "best_train_run", "client_for", "close_dead_runs", "download_run_checkpoint", "ensure_experiment", "find_finished_run",
    "git_commit", "log_params", "resolve_tracking_uri", "serve_ui", "tracked_run", "with_retries",
]
