"""Measurement-only hooks that time a real sweep from the command line, without touching lss/.

    LSS_STEP_CLOCK=clock.jsonl python train.py -m ... \\
        trainer._target_=benchmarks.step_clock.TimedTrainer \\
        +hydra.callbacks.step_clock._target_=benchmarks.step_clock.JobClock

Every event is one JSON line {"event", "job", "pid", "t"} (wall-clock seconds) appended to
$LSS_STEP_CLOCK; sweep_overhead.py and gpu_protocol.py turn them into gaps and splits.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback as HydraCallback
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig

CLOCK_ENV = "LSS_STEP_CLOCK"


def record(event: str, **fields: Any) -> None:
    path = os.environ.get(CLOCK_ENV)
    if not path:
        return
    job = HydraConfig.get().job.num if HydraConfig.initialized() and HydraConfig.get().job.get("num") is not None else 0
    line = json.dumps({"event": event, "job": job, "pid": os.getpid(), "t": time.time(), **fields})
    with open(path, "a") as handle:  # O_APPEND: whole lines, also from parallel jobs
        handle.write(line + "\n")


class StepClock(Callback):
    """Data ready, first and last optimizer step, and per-epoch training images/s."""

    def __init__(self) -> None:
        self.first_step_seen = False
        self.last_step_end = 0.0
        self.train_images = 0
        self.epoch_started = 0.0

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        record("data_ready", stage=stage)  # Lightning calls this right after datamodule.setup

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.train_images, self.epoch_started = 0, time.time()

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        if not self.first_step_seen:
            self.first_step_seen = True
            record("first_step")

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.train_images += len(batch[1])
        self.last_step_end = time.time()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # last training step minus epoch start: the training loop alone (loader included, validation not)
        record("train_epoch", epoch=trainer.current_epoch, images=self.train_images, seconds=self.last_step_end - self.epoch_started)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        record("last_step", t_step=self.last_step_end)


class TimedTrainer(L.Trainer):
    """A Lightning Trainer that carries StepClock and records when fit and test are entered and left."""

    def __init__(self, *args: Any, callbacks: list[Callback] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, callbacks=[*(callbacks or []), StepClock()], **kwargs)

    def fit(self, *args: Any, **kwargs: Any) -> None:
        record("fit_start")
        super().fit(*args, **kwargs)
        record("fit_end")

    def test(self, *args: Any, **kwargs: Any) -> Any:
        record("test_start")
        result = super().test(*args, **kwargs)
        record("test_end")
        return result


class JobClock(HydraCallback):
    """When Hydra starts and ends each job of the sweep (MLflow recording included)."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        record("job_start")

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        record("job_end")
