"""p_mid for every slice: the model's ``predict_step`` run by a Lightning Trainer, on the GPU when there is one."""

from __future__ import annotations

from typing import cast

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from lss.data.dataset import SliceDataset


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
    model: L.LightningModule, images: np.ndarray, channels: np.ndarray, batch_size: int, trainer: L.Trainer
) -> np.ndarray:
    """The model's predictions (calibrated p_mid for the slice classifier) for each sample, in sample order.

    ``images`` are the preprocessed (N, H, W) uint8 sources; ``channels`` the (samples, 3) sources each
    sample shows (lss/data/channels.py).
    """
    if len(channels) == 0:
        return np.empty(0, dtype=np.float32)
    rows = np.arange(len(channels))
    dataset = SliceDataset(
        images, np.zeros(len(rows), dtype=np.int64), rows, model.hparams["mean"], model.hparams["std"], channels
    )
    batches = cast(
        list[torch.Tensor], trainer.predict(model, DataLoader(dataset, batch_size=batch_size, shuffle=False))
    )
    return torch.cat([batch.float().cpu() for batch in batches]).numpy()
