"""Cached 8-bit slices -> normalised 3-channel tensors for an ImageNet-pretrained backbone."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2


def augmentation(enabled: bool) -> v2.Transform | None:
    """Light, anatomy-preserving jitter (small rotation/shift/scale, contrast); off in the paper protocol."""
    if not enabled:
        return None
    return v2.Compose(
        [
            v2.RandomAffine(degrees=5, translate=(0.04, 0.04), scale=(0.95, 1.05)),
            v2.ColorJitter(brightness=0.1, contrast=0.1),
        ]
    )


_CHANNEL = np.arange(3)[:, None, None]
"""Channel c of an item reads row c of the lookup table."""


class SliceDataset(Dataset):
    """Items are (image 3xHxW float, target, row) where row indexes the sample table.

    ``channels[row]`` names the three cached images shown in the channels of sample ``row`` (the
    sample itself three times in the paper; neighbours or a T1 partner in the ablations,
    lss/data/channels.py). Without augmentation an 8-bit pixel maps straight to its normalised
    channel value through a 3x256 table: one gather per item instead of five tensor operations
    (benchmarks/cache_speed.py).
    """

    def __init__(
        self,
        images: np.ndarray,
        targets: np.ndarray,
        rows: np.ndarray,
        mean: Sequence[float],
        std: Sequence[float],
        channels: np.ndarray,
        transform: v2.Transform | None = None,
    ) -> None:
        self.images, self.targets, self.rows, self.channels = images, targets, rows, channels
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
        self.transform = transform
        grey = np.arange(256, dtype=np.float32) / np.float32(255.0)
        self.normalised = (
            (grey[None, :] - np.asarray(mean, np.float32)[:, None]) / np.asarray(std, np.float32)[:, None]
        ).astype(np.float32)

    def __len__(self) -> int:
        return len(self.rows)

    def image(self, row: int) -> torch.Tensor:
        """The normalised 3xHxW input of sample ``row`` (augmented when a transform is set)."""
        stack = np.asarray(self.images[self.channels[row]])  # (3, H, W) uint8
        if self.transform is None:
            return torch.from_numpy(self.normalised[_CHANNEL, stack])
        image = self.transform(torch.from_numpy(stack.astype(np.float32) / 255.0))
        return (image - self.mean) / self.std

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int, int]:
        row = int(self.rows[item])
        return self.image(row), int(self.targets[row]), row
