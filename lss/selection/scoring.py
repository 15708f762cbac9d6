"""p_mid for every slice: batched inference, on the GPU when there is one."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from lss.data.dataset import SliceDataset
from lss.model.module import MidSliceClassifier


@torch.inference_mode()
def score_slices(
    model: MidSliceClassifier,
    images: np.ndarray,
    channels: np.ndarray,
    batch_size: int,
    device: torch.device,
    progress: bool = True,
) -> np.ndarray:
    """Calibrated probability of Mid (class 1) for each sample, in sample order.

    ``images`` are the preprocessed (N, H, W) uint8 sources; ``channels`` the (samples, 3) sources each
    sample shows (lss/data/channels.py).
    """
    if len(channels) == 0:
        return np.empty(0, dtype=np.float32)
    rows = np.arange(len(channels))
    dataset = SliceDataset(
        images, np.zeros(len(rows), dtype=np.int64), rows, model.hparams["mean"], model.hparams["std"], channels
    )
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, pin_memory=device.type == "cuda")
    model = model.to(device).eval()
    p_mid = []
    for batch, _, _ in tqdm(loader, desc="scoring slices", unit="batch", disable=not progress):
        logits = model(batch.to(device, non_blocking=True))
        p_mid.append(model.p_mid(logits).cpu())
    return torch.cat(p_mid).numpy()
