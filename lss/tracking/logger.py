"""Lightning's MLFlowLogger adapted to lss (kept apart so analysis need not import Lightning)."""

from __future__ import annotations

from collections.abc import Mapping

from lightning.pytorch.loggers import MLFlowLogger


class EpochMLFlowLogger(MLFlowLogger):
    """Lightning's MLFlowLogger, with two changes lss relies on.

    - Epoch-level metrics are logged with ``step = epoch`` so per-epoch curves (paper Fig. 5) line
      up across runs with different numbers of batches.
    - ``finalize`` does not end the run: Lightning calls it after ``fit`` already, so a job killed
      during ``test`` would otherwise leave a FINISHED run without test metrics. ``tracked_run``
      owns the run status.
    """

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        metrics = dict(metrics)
        epoch = metrics.pop("epoch", None)
        super().log_metrics(metrics, step=int(epoch) if epoch is not None else step)

    def finalize(self, status: str = "success") -> None:
        return None
