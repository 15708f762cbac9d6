"""The LightningModule: a timm backbone retrained end to end with a new 2-class head (paper §4)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, ClassVar

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchmetrics import CatMetric, MeanMetric

from lss.errors import ConfigError
from lss.model.backbone import create_backbone
from lss.model.calibration import fit_temperature
from lss.model.checkpoint import TEMPERATURE_KEY
from lss.model.evaluation import TestedSlices
from lss.model.metrics import paper_metrics
from lss.model.mid_rule import MID_THRESHOLD
from lss.model.param_groups import transfer_learning_param_groups


def p_mid_of(logits: torch.Tensor, temperature: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Softmax probability of Mid (class 1) of ``logits / temperature``, in float32 whatever the training precision."""
    return (logits.float() / temperature).softmax(dim=1)[:, 1]


def predicted_class(logits: torch.Tensor) -> torch.Tensor:
    """Class index by the one rule for Mid (``mid_rule.is_mid``: p_mid > 0.5, ties Lateral)."""
    return (p_mid_of(logits) > MID_THRESHOLD).long()


def global_mean_loss(per_image: torch.Tensor, global_batch: torch.Tensor | float, world_size: int) -> torch.Tensor:
    """This rank's loss such that DDP's gradient average equals the mean over the whole global batch.

    Ranks hold unequal shares (10 images over 4 devices: 3, 3, 2, 2); DDP averages gradients over
    ranks, so each rank contributes sum(own losses) * world_size / global batch size.
    """
    return per_image.sum() * world_size / global_batch


class MidSliceClassifier(L.LightningModule):
    """Mid (class 1) vs Lateral (class 0). Logs train/loss, val/loss and val metrics per epoch, test metrics once.

    ``forward`` gives raw logits; ``temperature`` (a buffer, so checkpoints carry it; 1.0 until train.py
    fits it on the validation slices) turns them into calibrated p_mid: ``p_mid_of(logits, temperature)``.
    """

    unit: ClassVar[str] = "slice"
    """What one sample is: one slice (the paper); ``SeriesMidSelector`` takes whole series."""
    output_shape: ClassVar[tuple[int, ...]] = (2,)
    """What ``forward`` gives per image: the logits of Lateral and Mid."""

    def __init__(
        self,
        backbone: str,
        optimizer: functools.partial[torch.optim.Optimizer] | None,
        head_lr_multiplier: float = 20.0,
        pretrained: bool = False,
        weights: str | None = None,
        channels_last: bool = False,
        compile: bool = False,
        modality: str | None = None,
        context: int = 1,
        input_size: Sequence[int] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        """``optimizer`` is called with the parameter groups; its ``lr`` is the transferred layers'.

        ``optimizer=None`` builds a classifier for prediction only.

        ``modality``, ``context``, ``input_size``, ``mean`` and ``std`` are stored in checkpoints so prediction
        needs nothing else.
        """
        super().__init__()
        self.save_hyperparameters(ignore=["optimizer"], logger=False)
        self.optimizer_factory = optimizer
        self.network = create_backbone(backbone, num_classes=2, pretrained=pretrained, weights=weights)
        if channels_last:
            self.network = self.network.to(memory_format=torch.channels_last)
        self.forward_fn = torch.compile(self.network) if compile else self.network
        self.channels_last = channels_last
        self.temperature: torch.Tensor
        self.register_buffer(TEMPERATURE_KEY, torch.tensor(1.0))
        self.train_loss, self.val_loss = MeanMetric(), MeanMetric()
        self.val_metrics, self.test_metrics = paper_metrics("val/"), paper_metrics("test/")
        # every process's test rows and logits, gathered by torchmetrics (NaN logits of a diverged run kept)
        self.test_rows, self.test_logits = CatMetric(nan_strategy="disable"), CatMetric(nan_strategy="disable")
        self.test_predictions: TestedSlices | None = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.forward_fn(images)

    def p_mid(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated p_mid of this classifier's logits."""
        return p_mid_of(logits, self.temperature)

    def for_prediction(self) -> MidSliceClassifier:
        """A CPU copy of this classifier's network and temperature without optimizer, trainer or compiled graph:
        what predict.py scores with and what the MLflow model holds."""
        copy = MidSliceClassifier(**{**self.hparams, "pretrained": False, "compile": False}, optimizer=None)
        copy.network.load_state_dict(self.network.state_dict())
        copy.temperature.copy_(self.temperature)
        return copy.eval()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Checkpoints written before calibration existed are uncalibrated: temperature 1."""
        checkpoint["state_dict"].setdefault(TEMPERATURE_KEY, torch.tensor(1.0))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, targets, _ = batch
        per_image = F.cross_entropy(self(images), targets, reduction="none")
        self.train_loss.update(per_image.detach().mean(), weight=len(targets))
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True, prog_bar=True)
        global_batch = self.trainer.strategy.reduce(
            torch.tensor(float(len(targets)), device=per_image.device), reduce_op="sum"
        )
        return global_mean_loss(per_image, global_batch, self.trainer.world_size)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        images, targets, _ = batch
        logits = self(images)
        self.val_loss.update(F.cross_entropy(logits, targets), weight=len(targets))
        self.val_metrics.update(predicted_class(logits), targets)
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log_dict(self.val_metrics, on_step=False, on_epoch=True, prog_bar=False)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        images, targets, rows = batch
        logits = self(images)
        self.test_metrics.update(predicted_class(logits), targets)
        self.log_dict(self.test_metrics, on_step=False, on_epoch=True)
        self.test_rows.update(rows.detach())  # float32: exact for row numbers below 2**24
        self.test_logits.update(logits.detach().float())

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        """Calibrated p_mid of each image (``Trainer.predict``: predict.py's inference)."""
        return self.p_mid(self(batch[0]))

    def on_test_epoch_start(self) -> None:
        self.test_rows.reset()
        self.test_logits.reset()
        self.test_predictions = None

    def on_test_epoch_end(self) -> None:
        """p_mid of every test slice from every process, on each process, ordered by row."""
        gathered_rows, gathered_logits = self.test_rows.compute(), self.test_logits.compute()  # every process calls
        rows = np.asarray(gathered_rows.cpu() if len(gathered_rows) else [], dtype=np.int64)
        logits = torch.as_tensor(np.asarray(gathered_logits.cpu() if len(gathered_logits) else [], np.float32))
        order = np.argsort(rows, kind="stable")
        logits = logits.reshape(-1, 2)[order]
        self.test_predictions = TestedSlices(
            rows[order], p_mid_of(logits).numpy(), p_mid_of(logits, self.temperature.cpu()).numpy()
        )

    def fitted_temperature(self, validation: DataLoader) -> float:
        """The temperature of the logits that best explains the validation slices' labels (calibration.py)."""
        logits, targets = [], []
        with torch.no_grad():
            for images, batch_targets, _ in validation:
                logits.append(self(images.to(self.device)).float().cpu())
                targets.append(batch_targets)
        return fit_temperature(torch.cat(logits), torch.cat(targets))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer_factory is None:
            raise ConfigError("this classifier was loaded for prediction only (no optimizer); train with train.py")
        lr = float(self.optimizer_factory.keywords["lr"])
        return self.optimizer_factory(
            transfer_learning_param_groups(self.network, lr, self.hparams["head_lr_multiplier"])
        )
