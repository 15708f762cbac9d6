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


class SliceDataset(Dataset):
    """Items are (image 3xHxW float, target, row) where row indexes the labelled-slice table.

    Without augmentation an 8-bit pixel maps straight to its three normalised channel values
    through a 3x256 table: one gather per item instead of five tensor operations
    (benchmarks/cache_speed.py).
    """

    def __init__(
        self,
        images: np.ndarray,
        targets: np.ndarray,
        rows: np.ndarray,
        mean: Sequence[float],
        std: Sequence[float],
        transform: v2.Transform | None = None,
    ) -> None:
        self.images, self.targets, self.rows = images, targets, rows
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
        self.transform = transform
        grey = np.arange(256, dtype=np.float32) / np.float32(255.0)
        self.normalised = (
            (grey[None, :] - np.asarray(mean, np.float32)[:, None]) / np.asarray(std, np.float32)[:, None]
        ).astype(np.float32)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int, int]:
        row = int(self.rows[item])
        if self.transform is None:
            return (
                torch.from_numpy(np.take(self.normalised, np.asarray(self.images[row]), axis=1)),
                int(self.targets[row]),
                row,
            )
        image = torch.from_numpy(np.array(self.images[row], dtype=np.float32) / 255.0)[None].expand(3, -1, -1)
        if self.transform is not None:
            image = self.transform(image)
        return (image - self.mean) / self.std, int(self.targets[row]), row
