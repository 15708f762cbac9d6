"""Running train.py as a user does, and reading back what it recorded."""

from __future__ import annotations

import os
import subprocess
import sys
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
