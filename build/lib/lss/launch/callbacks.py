"""Hydra callbacks: prepare the MLflow store once, before any job of a sweep touches it.

With parallel launchers (joblib, submitit) several jobs would otherwise create the SQLite schema and the
experiment at the same moment; with a tracking server that does not answer, the sweep stops here in seconds with
one line naming its URI, not after each job's retries.
"""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lss import tracking
from lss.entry import exit_with_one_line
from lss.errors import UserError
from lss.launch.ddp_multirun import is_launched_ddp_child


class PrepareTrackingStore(Callback):
    def _prepare(self, config: DictConfig) -> None:
        if is_launched_ddp_child() or "mlflow" not in config:
            return
        try:
            tracking.ensure_experiment(
                tracking.resolve_tracking_uri(config.mlflow.tracking_uri), config.mlflow.experiment_name
            )
        except UserError as error:
            exit_with_one_line(str(error))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._prepare(config)

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._prepare(config)
