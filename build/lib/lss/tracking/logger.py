"""Lightning's logger interface over an lss run (kept apart so that code reading runs does not import Lightning)."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from lss.tracking.journal import TrackedRun


class RunLogger(Logger):
    """What Lightning logs during fit and test, written to the run's journal (``lss.tracking.journal``) rather than
    straight to MLflow as ``MLFlowLogger`` does, so that a tracking outage during training loses no epoch.

    Epoch-level metrics are logged with ``step = epoch``, so per-epoch curves (paper Fig. 5) line up across runs
    with different numbers of batches. The run's status is ``tracked_run``'s, never the logger's.
    """

    def __init__(self, run: TrackedRun) -> None:
        super().__init__()
        self.run = run

    @property
    def name(self) -> str:
        return "mlflow"

    @property
    def version(self) -> str:
        return self.run.run_id

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        values = dict(metrics)
        epoch = values.pop("epoch", None)
        self.run.log_metrics(values, int(epoch) if epoch is not None else step or 0)

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        values = vars(params) if isinstance(params, Namespace) else dict(params)
        if values:
            self.run.log_params(values)
