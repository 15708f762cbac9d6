"""p_mid for every slice: the model's ``predict_step`` run by a Lightning Trainer, on the GPU when there is one."""

from __future__ import annotations

from typing import cast

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from lss.data.channels import InputPlan
from lss.data.dataset import SliceDataset
from lss.data.stacks import StackDataset, collate_stacks, series_stacks
from lss.model.selector import Selector


def prediction_trainer(device: str, progress: bool) -> L.Trainer:
    """``device``: ``auto`` (the GPU when there is one, else the CPU) or a torch device string (``cpu``, ``cuda:1``)."""
    accelerator, devices = "auto", cast(int | list[int], 1)
    if device != "auto":
        chosen = torch.device(device)
        accelerator = "gpu" if chosen.type == "cuda" else chosen.type
        devices = [chosen.index] if chosen.index is not None else 1
    return L.Trainer(
        accelerator=accelerator,
        devices=devices,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=progress,
    )


def score_slices(
    model: Selector, plan: InputPlan, images: np.ndarray, batch_size: int, trainer: L.Trainer
) -> np.ndarray:
    """The model's calibrated p_mid for each sample of ``plan``, in sample order.

    ``images`` are the preprocessed (N, H, W) uint8 sources of ``plan`` (lss/data/channels.py). A selector of slices
    scores batches of ``batch_size`` slices; a selector of series one whole series at a time.
    """
    if plan.samples.empty:
        return np.empty(0, dtype=np.float32)
    rows = np.arange(len(plan.samples))
    slices = SliceDataset(
        images, np.zeros(len(rows), dtype=np.int64), rows, model.hparams["mean"], model.hparams["std"], plan.channels
    )
    if model.unit == "slice":
        loader = DataLoader(slices, batch_size=batch_size)
    else:
        positions = plan.samples["slice_location_mm"].to_numpy(float)
        stacks = StackDataset(slices, positions, series_stacks(plan.samples, rows))
        loader = DataLoader(stacks, batch_size=1, collate_fn=collate_stacks)
    p_mid = np.empty(len(rows), dtype=np.float32)
    for batch_rows, batch_p_mid in cast(list[tuple[torch.Tensor, torch.Tensor]], trainer.predict(model, loader)):
        p_mid[batch_rows.cpu().numpy()] = batch_p_mid.float().cpu().numpy()
    return p_mid
