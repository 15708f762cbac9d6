"""Who a run is: its tags, the hash of its resolved config (resume), its owner (dead-run reaping).

A job whose resolved config already has a FINISHED run is skipped (``resume``); a RUNNING run whose
process on this host is gone (SIGKILL, OOM, power loss) is marked KILLED at the next start.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path
from typing import Any

from mlflow.entities import Run, RunStatus

from lss.tracking.store import client_for, experiment_id, with_retries

KIND_TAG = "lss.kind"
"""What a run is: TRAIN_KIND or ANALYSIS_KIND."""
TRAIN_KIND, ANALYSIS_KIND = "train", "analysis"
SWEEP_TAG = "lss.sweep_id"
JOB_TAG = "lss.job_num"
CONFIG_HASH_TAG = "lss.config_hash"
DATA_SOURCE_TAG = "lss.data_source"
"""``phantom (...)`` for data lss wrote itself, else ``dicom``: results on a phantom say nothing about the paper."""
ERROR_TAG = "lss.error"
"""Why a FAILED run failed: the exception's message."""
INTERRUPT_TAG = "lss.interrupted"
"""Which signal ended a KILLED run (SIGTERM, SIGINT): rerunning the sweep with resume=true trains it again."""
COMMIT_TAG = "mlflow.source.git.commit"
ENVIRONMENT_TAG_PREFIX = "lss.env."
"""``lss.env.<name>``: the run record of lss.environment (lss, Python and library versions, platform, device)."""
SPLIT_SCHEME_PARAM = "split.scheme"
"""How the run's split was drawn (lss.data.splits.SPLIT_SCHEME); a run without it used scheme 1."""
HOST_TAG = "lss.host"
PID_TAG = "lss.pid"

VOLATILE_KEYS = (
    "paths",
    "mlflow",
    "resume",
    "log_checkpoint",
    "log_model",
    "register_as",
    "hydra",
    "resources",
    "data.cache_dir",
    "data.num_workers",
    "data.pin_memory",
    "data.progress",
    "trainer.enable_progress_bar",
)
"""Keys that say where a job writes or how it shows progress, not what it computes: outside every hash."""
REPEAT_KEYS = ("seed", "modality", "data.seed", "data.modality", "model.modality")
"""What varies between the runs of one experiment design (20 seeds x T1, T2), with the nodes interpolating them."""
OUTCOME_PREFIXES = ("split.", "cache.", "labels.")
"""Params logged after training (split sizes, partition id, the cache entries read, how many slices the labels CSV
and the centre rule labelled): outcomes, not settings."""


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested config -> dotted keys, as MLflow params are logged."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def is_setting(key: str, ignored: tuple[str, ...] = VOLATILE_KEYS) -> bool:
    """Whether a dotted key is part of what a job computes (not volatile, not an outcome)."""
    return not (
        key in ignored or key.startswith(tuple(f"{name}." for name in ignored)) or key.startswith(OUTCOME_PREFIXES)
    )


def config_hash(resolved: dict[str, Any]) -> str:
    """Hash of everything a job computes from: equal hashes give equal runs (the resume key)."""
    kept = {key: value for key, value in flatten(resolved).items() if is_setting(key)}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def design_keys(keys: list[str]) -> list[str]:
    """Of a run's dotted param keys, those every run of one experiment design shares (not seed/modality)."""
    return sorted(key for key in keys if is_setting(key, VOLATILE_KEYS + REPEAT_KEYS))


def git_commit() -> str:
    """The commit of the lss code this process runs (its package's checkout, whatever the working directory);
    "unknown" for an installed wheel, whose version (``lss.env.lss``) says it instead."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
            cwd=Path(__file__).resolve().parents[1],
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


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
    """Mark KILLED the RUNNING runs whose process on this host is gone; runs of other hosts are left alone."""
    found = experiment_id(tracking_uri, experiment_name)
    if found is None:
        return []
    client = client_for(tracking_uri)
    host = socket.gethostname()
    dead = [
        run.info.run_id
        for run in client.search_runs([found], "attributes.status = 'RUNNING'", max_results=10_000)
        if run.data.tags.get(HOST_TAG) == host
        and run.data.tags.get(PID_TAG, "").isdigit()
        and not _process_alive(int(run.data.tags[PID_TAG]))
    ]
    for run_id in dead:
        with_retries(functools.partial(client.set_terminated, run_id, RunStatus.to_string(RunStatus.KILLED)))
    return dead


def runs_of_config(tracking_uri: str, experiment_name: str, digest: str) -> list[Run]:
    """The training runs with this resolved-config hash, newest first."""
    found = experiment_id(tracking_uri, experiment_name)
    if found is None:
        return []
    return list(
        client_for(tracking_uri).search_runs(
            [found],
            f"tags.`{CONFIG_HASH_TAG}` = '{digest}' and tags.`{KIND_TAG}` = '{TRAIN_KIND}'",
            order_by=["attributes.start_time DESC"],
            max_results=1000,
        )
    )


def find_finished_run(tracking_uri: str, experiment_name: str, digest: str) -> str | None:
    """The newest FINISHED training run with this resolved-config hash, if any (resume)."""
    finished = [
        run.info.run_id
        for run in runs_of_config(tracking_uri, experiment_name, digest)
        if run.info.status == RunStatus.to_string(RunStatus.FINISHED)
    ]
    return finished[0] if finished else None


def is_running_elsewhere(run: Run) -> bool:
    """RUNNING in a process that lives (on this host), or on another host (whose processes cannot be checked)."""
    if run.info.status != RunStatus.to_string(RunStatus.RUNNING):
        return False
    pid = run.data.tags.get(PID_TAG, "")
    return run.data.tags.get(HOST_TAG) != socket.gethostname() or not pid.isdigit() or _process_alive(int(pid))
