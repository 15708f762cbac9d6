"""Global batches of the paper's size (10) on any number of devices, each image once per epoch.

The training order is one seeded permutation per epoch, cut into global batches of
``batch_size``; rank r of w takes items r, r+w, ... of each global batch (10 over 4 devices:
3, 3, 2, 2). So 1 and 4 devices train on the same global batches, and no image is repeated to
pad a rank (torch's DistributedSampler pads). The incomplete last global batch is dropped as
MATLAB's trainNetwork (the paper) does, unless it is the only one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from torch.utils.data import Sampler


class EpochPermutation(Sampler[int]):
    """A permutation of ``range(length)`` drawn from (seed, epoch): new each epoch, fixed by the seed."""

    def __init__(self, length: int, seed: int) -> None:
        self.length, self.seed, self.epoch = length, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning before every training epoch."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        return iter(np.random.default_rng([self.seed, self.epoch]).permutation(self.length).tolist())

    def __len__(self) -> int:
        return self.length


class GlobalBatchSampler(Sampler[list[int]]):
    """This rank's share of every global training batch (see the module docstring)."""

    def __init__(self, length: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if batch_size < world_size:
            raise ValueError(f"data.batch_size={batch_size} (global) must be at least the {world_size} devices")
        self.sampler = EpochPermutation(length, seed)  # Lightning calls sampler.set_epoch through this attribute
        self.batch_size, self.rank, self.world_size = batch_size, rank, world_size

    def global_batches(self) -> list[list[int]]:
        order = list(self.sampler)
        batches = [order[start : start + self.batch_size] for start in range(0, len(order), self.batch_size)]
        if len(batches) > 1 and len(batches[-1]) < self.batch_size:
            batches.pop()
        return [batch for batch in batches if len(batch) >= self.world_size]  # every rank gets at least one image

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.global_batches():
            yield batch[self.rank :: self.world_size]

    def __len__(self) -> int:
        return len(self.global_batches())
