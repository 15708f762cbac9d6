"""Whole sagittal series as samples: what a series-level selector (``selector=series``) learns and is tested on.

An item is one series: its slices in position order (whatever the order on disk), their positions in mm,
the index of the mid-sagittal slice among them (-1 when unknown, as in new studies), and their rows in
the sample table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from lss.data.dataset import SliceDataset
from lss.data.slices import TrainingDataError

MIN_SLICES = 3
"""A series needs slices on both sides of a candidate for its symmetry to say anything."""


@dataclass(frozen=True)
class Stack:
    """One series: sample-table rows in position order, and where its mid-sagittal slice is among them (-1: none)."""

    rows: np.ndarray
    mid: int


def series_stacks(samples: pd.DataFrame, rows: np.ndarray) -> list[Stack]:
    """The series of the sample rows ``rows`` (whole series, split_by=patient), each in slice-position order."""
    chosen = samples.iloc[rows].assign(row=rows)
    stacks = []
    for _, series in chosen.groupby("series_uid", sort=True):
        ordered = series.sort_values("slice_location_mm", kind="stable")
        truth = np.flatnonzero(ordered["is_mid_sagittal"].to_numpy(bool))
        stacks.append(Stack(ordered["row"].to_numpy(np.int64), int(truth[0]) if len(truth) else -1))
    return stacks


def labelled_stacks(stacks: list[Stack], split: str) -> list[Stack]:
    """Series the selector can learn from or be tested on: a known mid-sagittal slice and at least MIN_SLICES."""
    kept = [stack for stack in stacks if stack.mid >= 0 and len(stack.rows) >= MIN_SLICES]
    if not kept:
        raise TrainingDataError(
            f"the {split} split has no series of at least {MIN_SLICES} slices with a labelled mid-sagittal slice; "
            "a series-level selector needs whole labelled series (data.split_by=patient)"
        )
    return kept


class StackDataset(Dataset):
    """Items are (images Sx3xHxW, positions_mm S, mid index, rows S) of one series."""

    def __init__(self, slices: SliceDataset, positions_mm: np.ndarray, stacks: Sequence[Stack]) -> None:
        """``slices`` gives the image of any sample row; ``positions_mm`` the position of every sample row."""
        self.slices, self.positions_mm, self.stacks = slices, positions_mm, list(stacks)

    def __len__(self) -> int:
        return len(self.stacks)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor, int, torch.Tensor]:
        stack = self.stacks[item]
        images = torch.stack([self.slices.image(int(row)) for row in stack.rows])
        positions = torch.from_numpy(self.positions_mm[stack.rows].astype(np.float32))
        return images, positions, stack.mid, torch.tensor(stack.rows)


def collate_stacks(
    items: list[tuple[torch.Tensor, torch.Tensor, int, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Series of different lengths in one batch: slices concatenated, ``series`` says which series each belongs to."""
    images = torch.cat([item[0] for item in items])
    positions = torch.cat([item[1] for item in items])
    series = torch.cat([torch.full((len(item[1]),), number, dtype=torch.long) for number, item in enumerate(items)])
    mids = torch.tensor([item[2] for item in items], dtype=torch.long)
    rows = torch.cat([item[3] for item in items])
    return images, positions, series, mids, rows
