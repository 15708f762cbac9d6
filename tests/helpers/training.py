"""Running train.py as a user does, and reading back what it recorded."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import DictConfig

from lss.launch.compose import compose_train_config

REPO = Path(__file__).resolve().parents[2]
TEST_METRICS = ("test/accuracy", "test/precision", "test/recall", "test/f1")
REGISTERED = "lss-test-T1"
"""The registered-model name tests/selection's trained model is registered under (version 1)."""


def tiny_overrides(phantom_dir: Path, workdir: Path) -> list[str]:
    """Train overrides for a seconds-long CPU run on the phantom, with every output under ``workdir``."""
    return [
        "experiment=demo",
        f"data.root={phantom_dir}",
        "data.input_size=[32,32]",
        f"paths.cache_dir={workdir / 'cache'}",
        f"mlflow.tracking_uri=sqlite:///{workdir / 'mlflow.db'}",
        "trainer.max_epochs=2",
        f"hydra.sweep.dir={workdir / 'multirun'}",
        f"hydra.run.dir={workdir / 'run'}",
    ]


def composed(overrides: list[str], output_dir: Path) -> DictConfig:
    """The real config, composed as train.py would, for a job writing into ``output_dir``."""
    return compose_train_config(overrides, output_dir)


def composed_datamodule(overrides: list[str], workdir: Path) -> Any:
    """``instantiate(cfg.data)`` of the demo config with ``overrides``: the DataModule train.py would build."""
    cfg = composed(["experiment=demo", f"paths.cache_dir={workdir / 'cache'}", *overrides], workdir / "run")
    return instantiate(cfg.data, _convert_="all")


def trained_selector_run(phantom_dir: Path, workdir: Path, overrides: list[str]) -> dict[str, Any]:
    """A T2 run of seed 0 on the phantom with ``overrides`` (e.g. ``selector=series``), trained in this process: its
    workdir, tracking URI, MLflow row and last checkpoint."""
    from lss.training import train

    train(composed([*tiny_overrides(phantom_dir, workdir), "modality=T2", "seed=0", *overrides], workdir / "job"))
    tracking_uri = f"sqlite:///{workdir / 'mlflow.db'}"
    return {
        "workdir": workdir,
        "tracking_uri": tracking_uri,
        "run": finished_runs(tracking_uri).iloc[0],
        "checkpoint": workdir / "job" / "checkpoints" / "last.ckpt",
    }


def run_script(
    script: str,
    args: list[str],
    cwd: Path = REPO,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess:
    """``python <script> ARGS`` exactly as a user types it; with ``check``, fails the test with its output on error."""
    result = subprocess.run(
        [sys.executable, str(REPO / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    if check and result.returncode != 0:
        pytest.fail(
            f"{script} {' '.join(args)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-6000:]}"
        )
    return result


def run_train(args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    return run_script("train.py", args, **kwargs)  # type: ignore[arg-type]  # kwargs are run_script's own


def finished_runs(tracking_uri: str, experiment_name: str = "lss") -> pd.DataFrame:
    """Every training run of the store (any status), as MLflow's own DataFrame."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.search_runs(experiment_names=[experiment_name], filter_string="tags.`lss.kind` = 'train'")


def run_states(db: Path) -> list[tuple[str, str]]:
    """(status, job number) of every training run, read straight from SQLite in read-only mode.

    While a sweep is alive we must not open its store with MLflow: that would run its
    migrations from a second process and race the sweep's own.
    """
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute(
                "SELECT runs.status, tags.value FROM runs "
                "JOIN tags ON tags.run_uuid = runs.run_uuid AND tags.key = 'lss.job_num'"
            ).fetchall()
    except sqlite3.OperationalError:  # store not migrated yet, or locked for a moment
        return []


def wait_for_run_state(
    db: Path, process: subprocess.Popen, state: tuple[str, str], timeout_s: float = 400, poll_s: float = 0.2
) -> None:
    """Return once a training run of ``process`` is in ``state`` (status, job number); fail if it ends first."""
    deadline = time.monotonic() + timeout_s
    while state not in run_states(db):
        if process.poll() is not None:
            pytest.fail(f"train.py ended (exit {process.returncode}) before a run was {state}; runs: {run_states(db)}")
        if time.monotonic() > deadline:
            pytest.fail(f"no run was {state} within {timeout_s} s; runs: {run_states(db)}")
        time.sleep(poll_s)


def start_train(args: list[str], output: Path, cwd: Path = REPO, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python train.py ARGS`` in a session of its own (a signal can reach its whole process group, as SLURM's and
    Ctrl+C's do), stdout and stderr into the file ``output``."""
    with output.open("w") as log:
        return subprocess.Popen(
            [sys.executable, str(REPO / "train.py"), *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )
