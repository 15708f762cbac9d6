"""A series-level selector (``selector=series``): which slice of a whole sagittal series is the mid-sagittal one.

A per-slice classifier sees one slice at a time, and a slice 4 mm off the midline looks almost like the
midline. What makes the mid slice *mid* is relative to the stack: its neighbours at equal distances
either side show the same anatomy. Each slice gets an ImageNet embedding from the backbone (frozen by
default: 20-odd training series cannot retrain it); its score is

    w · symmetry(c) + appearance(embedding of c)

where ``symmetry`` holds the similarities of the slices k = 1..K slots either side of c (and about the
half slots beside c, lss/model/stack_symmetry.py) and ``appearance`` is a linear read-out of the slice
itself. A softmax over the series' slices gives p(c is the mid-sagittal slice); the Mid band is the
``band_size`` slices around the most probable one, and a slice's p_mid is the probability that the
band contains it (``band_membership``). Neither term sees the slice's index, so the stack's centre
carries no weight: an off-centre stack is read like a centred one.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchmetrics import MeanMetric

from lss.errors import ConfigError
from lss.manifest import mid_band
from lss.model.backbone import create_backbone
from lss.model.checkpoint import TEMPERATURE_KEY
from lss.model.module import global_mean_loss
from lss.model.stack_symmetry import symmetry_features

StackBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
"""images (T,3,H,W), positions_mm (T,), series number (T,), mid index per series (B,), rows (T,)."""


def per_series(values: torch.Tensor, series: torch.Tensor) -> list[torch.Tensor]:
    """Split slice values by series number (slices of a series are contiguous, series numbered 0..B-1)."""
    counts = torch.bincount(series).tolist()
    return list(torch.split(values, counts))


def band_membership(p_centre: np.ndarray, band_size: int) -> np.ndarray:
    """p_mid of each slice of one series (position order): the probability that the Mid band around the
    mid-sagittal slice contains it, from p(c is the mid-sagittal slice) over the series' slices."""
    count = len(p_centre)
    p_mid = np.zeros(count)
    for centre, probability in enumerate(p_centre):
        band = mid_band(centre, count, band_size)
        p_mid[band.start : band.stop] += probability
    return np.clip(p_mid, 0.0, 1.0)


class SeriesMidSelector(L.LightningModule):
    """Scores every slice of a series; ``val/loss`` and ``val/mid_hit`` per epoch. ``temperature`` (fitted on the
    validation series after training) divides the scores before the softmax over slices."""

    def __init__(
        self,
        backbone: str,
        optimizer: functools.partial[torch.optim.Optimizer] | None,
        head_lr_multiplier: float = 20.0,
        pretrained: bool = False,
        weights: str | None = None,
        freeze_backbone: bool = True,
        max_offset: int = 4,
        channels_last: bool = False,
        compile: bool = False,
        modality: str | None = None,
        context: int = 1,
        input_size: Sequence[int] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        """``max_offset``: slots either side compared (K). ``freeze_backbone``: keep the ImageNet features, train
        the head only. The remaining arguments are the per-slice classifier's, stored for prediction."""
        super().__init__()
        if context != 1:
            raise ConfigError("selector=series compares whole slices with each other; use it with data.context=1")
        self.save_hyperparameters(ignore=["optimizer"], logger=False)
        self.optimizer_factory = optimizer
        self.network = create_backbone(backbone, num_classes=0, pretrained=pretrained, weights=weights)
        if channels_last:
            self.network = self.network.to(memory_format=torch.channels_last)
        self.forward_fn = torch.compile(self.network) if compile else self.network
        if freeze_backbone:
            self.network.requires_grad_(False)
        features = int(self.network.num_features)
        self.appearance = nn.Sequential(nn.LayerNorm(features), nn.Linear(features, 1))
        self.symmetry = nn.Linear(4 * max_offset, 1)
        self.temperature: torch.Tensor
        self.register_buffer(TEMPERATURE_KEY, torch.tensor(1.0))
        self.train_loss, self.val_loss, self.val_mid_hit = MeanMetric(), MeanMetric(), MeanMetric()
        self._embeddings: dict[int, torch.Tensor] = {}

    def train(self, mode: bool = True) -> SeriesMidSelector:
        """A frozen backbone stays in eval mode: its batch-norm statistics are ImageNet's."""
        super().train(mode)
        if self.hparams["freeze_backbone"]:
            self.network.eval()
        return self

    def embed(self, images: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Backbone embeddings; a frozen backbone's are remembered per sample row while fitting (they cannot change)."""
        if self.channels_last_enabled:
            images = images.contiguous(memory_format=torch.channels_last)
        if not self.hparams["freeze_backbone"] or rows is None:
            return self.forward_fn(images).float()
        missing = [index for index, row in enumerate(rows.tolist()) if row not in self._embeddings]
        if missing:
            with torch.no_grad():
                computed = self.forward_fn(images[missing]).float()
            self._embeddings.update(zip(rows[missing].tolist(), computed))
        return torch.stack([self._embeddings[row] for row in rows.tolist()])

    @property
    def channels_last_enabled(self) -> bool:
        return bool(self.hparams["channels_last"])

    def forward(
        self, images: torch.Tensor, positions_mm: torch.Tensor, series: torch.Tensor, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Raw score of each slice; a softmax over one series' scores is p(mid-sagittal)."""
        embeddings = self.embed(images, rows)
        symmetry = torch.cat(
            [
                symmetry_features(part, positions, int(self.hparams["max_offset"]))
                for part, positions in zip(per_series(embeddings, series), per_series(positions_mm, series))
            ]
        )
        return (self.symmetry(symmetry) + self.appearance(embeddings)).squeeze(1)

    def series_losses(self, scores: torch.Tensor, series: torch.Tensor, mids: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the true mid slice under each series' softmax, one value per series."""
        return torch.stack(
            [
                F.cross_entropy(part[None] / self.temperature, mid[None])
                for part, mid in zip(per_series(scores, series), mids)
            ]
        )

    def on_fit_start(self) -> None:
        self._embeddings = {}

    def on_fit_end(self) -> None:
        self._embeddings = {}

    def training_step(self, batch: StackBatch, batch_idx: int) -> torch.Tensor:
        images, positions, series, mids, rows = batch
        losses = self.series_losses(self(images, positions, series, rows), series, mids)
        self.train_loss.update(losses.detach().mean(), weight=len(mids))
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True, prog_bar=True)
        global_batch = self.trainer.strategy.reduce(torch.tensor(float(len(mids)), device=losses.device), "sum")
        return global_mean_loss(losses, global_batch, self.trainer.world_size)

    def validation_step(self, batch: StackBatch, batch_idx: int) -> None:
        images, positions, series, mids, rows = batch
        scores = self(images, positions, series, rows)
        self.val_loss.update(self.series_losses(scores, series, mids).mean(), weight=len(mids))
        chosen = torch.stack([part.argmax() for part in per_series(scores, series)])
        self.val_mid_hit.update((chosen == mids).float().mean(), weight=len(mids))
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log("val/mid_hit", self.val_mid_hit, on_step=False, on_epoch=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer_factory is None:
            raise ConfigError("this selector was loaded for prediction only (no optimizer); train with train.py")
        lr = float(self.optimizer_factory.keywords["lr"])
        head = [*self.appearance.parameters(), *self.symmetry.parameters()]
        groups: list[dict[str, Any]] = [
            {"params": head, "lr": lr * self.hparams["head_lr_multiplier"], "name": "head"}
        ]
        if not self.hparams["freeze_backbone"]:
            groups.insert(0, {"params": list(self.network.parameters()), "lr": lr, "name": "transferred"})
        return self.optimizer_factory(groups)
