"""What the series selectors over frozen ImageNet embeddings share (``selector=series``, ``selector=learned``).

A few dozen training series cannot retrain a backbone: these selectors read each slice's pooled embedding from the
backbone as ImageNet left it (eval mode, no gradient), learn a small head from one pass over the training series,
and stop after that pass, whatever ``trainer.max_epochs`` says.
"""

from __future__ import annotations

from typing import Any, cast

import torch

from lss.model.backbone import create_backbone
from lss.model.selector import SeriesSelector


class FrozenEmbeddingSelector(SeriesSelector):
    """A series selector over the frozen backbone's embeddings; a subclass learns its head in one training epoch."""

    def __init__(
        self,
        backbone: str,
        pretrained: bool,
        weights: str | None,
        channels_last: bool,
        compile: bool,
        modality: str,
        context: int,
        **model_node: Any,
    ) -> None:
        """``model_node``: the rest of conf/model/base.yaml (input_size, mean, std: stored by the subclass's
        ``save_hyperparameters`` for prediction; optimizer, head_lr_multiplier: unused, nothing learns by gradient)."""
        super().__init__(modality, context)
        self.automatic_optimization = False
        network = create_backbone(backbone, num_classes=0, pretrained=pretrained, weights=weights).eval()
        network.requires_grad_(False)
        if channels_last:
            network = network.to(memory_format=torch.channels_last)
        self.network = network
        self.forward_fn = torch.compile(network) if compile else network
        self.channels_last = channels_last
        self.feature_count = int(cast(int, network.num_features))
        """The embedding's length D: what the subclass's buffers are shaped by."""

    def train(self, mode: bool = True) -> FrozenEmbeddingSelector:
        """The frozen backbone stays in eval mode: its batch-norm statistics are ImageNet's."""
        super().train(mode)
        self.network.eval()
        return self

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(slices, D) float64 pooled embeddings of normalised images (slices, 3, H, W)."""
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            return self.forward_fn(images).double()

    def on_train_epoch_end(self) -> None:
        """One pass is the whole fit: a second epoch would learn the same head again."""
        self.trainer.should_stop = True
