"""The LightningModule: a timm backbone retrained end to end with a new 2-class head (paper §4)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torchmetrics import MeanMetric

from lss.decide.metrics import paper_metrics
from lss.decide.mid_rule import MID_THRESHOLD
from lss.errors import ConfigError
from lss.model.backbone import create_backbone
from lss.model.param_groups import transfer_learning_param_groups
from lss.model.selector import Selector


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


SliceBatch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""images (B,3,H,W), targets (B,), rows (B,) (``lss.data.dataset.SliceDataset``)."""


class MidSliceClassifier(Selector):
    """Mid (class 1) vs Lateral (class 0). Logs train/loss, val/loss and val metrics per epoch, test metrics once.

    ``forward`` gives raw logits; ``temperature`` turns them into calibrated p_mid: ``p_mid_of(logits, temperature)``.
    """

    name = "slice"
    unit = "slice"
    output_shape = (2,)
    """The logits of Lateral and Mid."""
    calibration_batch = 64
    temperature_bounds = (0.05, 20.0)
    """Perfectly separated validation logits pull the temperature towards 0 (ever more confident): it stops here."""

    def __init__(
        self,
        backbone: str,
        optimizer: functools.partial[torch.optim.Optimizer] | None = None,
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
        self.train_loss, self.val_loss = MeanMetric(), MeanMetric()
        self.val_metrics, self.test_metrics = paper_metrics("val/"), paper_metrics("test/")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.forward_fn(images)

    def p_mid(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated p_mid of this classifier's logits."""
        return p_mid_of(logits, self.temperature)

    def scores(self, batch: SliceBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Each slice's two logits (float32: the temperature divides them)."""
        images, _, rows = batch
        return rows, self(images).float()

    def truths(self, batch: SliceBatch) -> torch.Tensor:
        return batch[1]

    def p_mid_of_scores(self, scores: torch.Tensor, temperature: torch.Tensor | float) -> torch.Tensor:
        return p_mid_of(scores, temperature)

    def network_to_explain(self) -> torch.nn.Module:
        return self.network

    def training_step(self, batch: SliceBatch, batch_idx: int) -> torch.Tensor:
        images, targets, _ = batch
        per_image = F.cross_entropy(self(images), targets, reduction="none")
        self.train_loss.update(per_image.detach().mean(), weight=len(targets))
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True, prog_bar=True)
        global_batch = self.trainer.strategy.reduce(
            torch.tensor(float(len(targets)), device=per_image.device), reduce_op="sum"
        )
        return global_mean_loss(per_image, global_batch, self.trainer.world_size)

    def validation_step(self, batch: SliceBatch, batch_idx: int) -> None:
        images, targets, _ = batch
        logits = self(images)
        self.val_loss.update(F.cross_entropy(logits, targets), weight=len(targets))
        self.val_metrics.update(predicted_class(logits), targets)
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True, prog_bar=True)
        self.log_dict(self.val_metrics, on_step=False, on_epoch=True, prog_bar=False)

    def test_step(self, batch: SliceBatch, batch_idx: int) -> None:
        """The paper's four metrics of each slice on its own, and the test predictions (``Selector.record_test``)."""
        rows, logits = self.scores(batch)
        self.record_test(rows, logits)
        self.test_metrics.update(predicted_class(logits), batch[1])
        self.log_dict(self.test_metrics, on_step=False, on_epoch=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer_factory is None:
            raise ConfigError("this classifier was loaded for prediction only (no optimizer); train with train.py")
        lr = float(self.optimizer_factory.keywords["lr"])
        return self.optimizer_factory(
            transfer_learning_param_groups(self.network, lr, self.hparams["head_lr_multiplier"])
        )
