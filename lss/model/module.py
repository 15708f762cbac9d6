"""The LightningModule: a timm backbone retrained end to end with a new 2-class head (paper §4)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torchmetrics import MeanMetric

from lss.model.backbone import create_backbone
from lss.model.metrics import paper_metrics
from lss.model.param_groups import transfer_learning_param_groups


class MidSliceClassifier(L.LightningModule):
    """Mid (class 1) vs Lateral (class 0). Logs train/loss, val/loss and val metrics per epoch, test metrics once."""

    def __init__(
        self,
        name: str,
        optimizer: Callable[..., torch.optim.Optimizer],
        lr: float = 1e-4,
        head_lr_multiplier: float = 20.0,
        pretrained: bool = False,
        weights: str | None = None,
        channels_last: bool = False,
        compile: bool = False,
        modality: str | None = None,
        input_size: Sequence[int] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        """``modality``, ``input_size``, ``mean`` and ``std`` are stored in checkpoints so prediction needs nothing else."""
        super().__init__()
        self.save_hyperparameters(ignore=["optimizer"], logger=False)
        self.optimizer_factory = optimizer
        self.backbone = create_backbone(name, num_classes=2, pretrained=pretrained, weights=weights)
        if channels_last:
            self.backbone = self.backbone.to(memory_format=torch.channels_last)
        self.forward_fn = torch.compile(self.backbone) if compile else self.backbone
        self.channels_last = channels_last
        self.train_loss, self.val_loss = MeanMetric(), MeanMetric()
        self.val_metrics, self.test_metrics = paper_metrics("val/"), paper_metrics("test/")
        self._test_rows: list[torch.Tensor] = []
        self._test_p_mid: list[torch.Tensor] = []
        self.test_predictions: tuple[np.ndarray, np.ndarray] | None = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.forward_fn(images)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        images, targets, _ = batch
        loss = F.cross_entropy(self(images), targets)
        self.train_loss.update(loss.detach(), weight=len(targets))
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        images, targets, _ = batch
        logits = self(images)
        self.val_loss.update(F.cross_entropy(logits, targets), weight=len(targets))
        self.val_metrics.update(logits.argmax(dim=1), targets)
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log_dict(self.val_metrics, on_step=False, on_epoch=True, prog_bar=False)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        images, targets, rows = batch
        logits = self(images)
        self.test_metrics.update(logits.argmax(dim=1), targets)
        self.log_dict(self.test_metrics, on_step=False, on_epoch=True)
        self._test_rows.append(rows.detach().cpu())
        self._test_p_mid.append(logits.float().softmax(dim=1)[:, 1].detach().cpu())

    def on_test_epoch_start(self) -> None:
        self._test_rows, self._test_p_mid, self.test_predictions = [], [], None

    def on_test_epoch_end(self) -> None:
        """Collect (row, p_mid) of every test slice from every process onto each process."""
        rows = torch.cat(self._test_rows).numpy() if self._test_rows else np.empty(0, dtype=np.int64)
        p_mid = torch.cat(self._test_p_mid).numpy() if self._test_p_mid else np.empty(0, dtype=np.float32)
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, (rows, p_mid))
            rows = np.concatenate([part[0] for part in gathered])
            p_mid = np.concatenate([part[1] for part in gathered])
        order = np.argsort(rows, kind="stable")
        self.test_predictions = (rows[order], p_mid[order])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        groups = transfer_learning_param_groups(self.backbone, self.hparams.lr, self.hparams.head_lr_multiplier)
        return self.optimizer_factory(groups)
