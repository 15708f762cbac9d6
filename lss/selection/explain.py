"""``predict.py explain=true``: Grad-CAM overlays of two slices per scored series, as PNGs under ``saliency/``.

The chosen mid slice, explained as Mid, and the Lateral slice the model found most Mid-like (the
strongest competitor), explained as Lateral: together they show what the decision rested on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import DataLoader

from lss.data.dataset import SliceDataset
from lss.decide.mid_rule import MidRule, chosen_mid_index
from lss.manifest import LATERAL, MID
from lss.model.saliency import grad_cam, overlay

SALIENCY_DIR = "saliency"
EXPLAINED_COLUMNS = ["row", "series_uid", "slice_index", "label", "png"]
"""One explained slice: its row in predictions (and images), which series and slice, the class explained, the PNG."""
CLASS_INDEX = {LATERAL: 0, MID: 1}


def explained_slices(predictions: pd.DataFrame, mid_rule: MidRule, band_size: int) -> pd.DataFrame:
    """Per series: the chosen mid slice (as Mid) and, when the series has one, its Lateral slice of highest p_mid."""
    rows = []
    for series_uid, series in predictions.groupby("series_uid", sort=False):
        mid = series[series["slice_index"] == chosen_mid_index(series, mid_rule, band_size)].index[0]
        lateral = series[series["label"] == LATERAL]
        for row, label in [(mid, MID)] + ([(lateral["p_mid"].idxmax(), LATERAL)] if len(lateral) else []):
            slice_index = int(predictions.at[row, "slice_index"])
            png = f"{SALIENCY_DIR}/{series_uid}_slice{slice_index}_{label}.png"
            rows.append(
                {"row": int(row), "series_uid": series_uid, "slice_index": slice_index, "label": label, "png": png}
            )
    return pd.DataFrame(rows, columns=EXPLAINED_COLUMNS)


def write_overlays(
    network: torch.nn.Module,
    mean: Sequence[float],
    std: Sequence[float],
    images: np.ndarray,
    channels: np.ndarray,
    predictions: pd.DataFrame,
    mid_rule: MidRule,
    band_size: int,
    output_dir: Path,
    device: torch.device,
    batch_size: int,
) -> pd.DataFrame:
    """Grad-CAM of ``network``'s class logits for each explained slice over its preprocessed image (normalised by
    ``mean`` and ``std`` as the network saw it), written as PNG under ``output_dir``.

    ``channels[row]`` are the images the network saw for ``predictions`` row ``row`` (lss/data/channels.py); the
    slice's own image is ``images[row]``, the background of its overlay.
    """
    explained = explained_slices(predictions, mid_rule, band_size)
    (output_dir / SALIENCY_DIR).mkdir(parents=True, exist_ok=True)
    dataset = SliceDataset(
        images,
        np.zeros(len(images), dtype=np.int64),
        explained["row"].to_numpy(),
        mean,
        std,
        channels,
    )
    network = network.to(device)
    classes = explained["label"].map(CLASS_INDEX).to_numpy()
    done = 0
    for batch, _, _ in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        maps = grad_cam(network, batch, classes[done : done + len(batch)])
        for offset, saliency in enumerate(maps):
            item = explained.iloc[done + offset]
            Image.fromarray(overlay(images[item["row"]], saliency)).save(output_dir / item["png"])
        done += len(batch)
    return explained
