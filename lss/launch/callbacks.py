"""Hydra callbacks: prepare the MLflow store once, before any job of a sweep touches it.

With parallel launchers (joblib, submitit) several jobs would otherwise create the SQLite
schema and the experiment at the same moment and race on migrations.
"""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lss import tracking
from lss.launch.ddp_multirun import is_launched_ddp_child


class PrepareTrackingStore(Callback):
    def _prepare(self, config: DictConfig) -> None:
        if is_launched_ddp_child() or "mlflow" not in config:
            return
        tracking.ensure_experiment(
            tracking.resolve_tracking_uri(config.mlflow.tracking_uri), config.mlflow.experiment_name
        )

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._prepare(config)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._prepare(config)
