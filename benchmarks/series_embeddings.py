"""Frozen ImageNet EfficientNet-Lite0 embeddings of every labelled slice of the real lumbar set, computed once.

The series scorers of benchmarks/series_cv.py are fitted in seconds, but the backbone takes minutes on 2 CPU
cores: so every slice is embedded once, with lss's own data path (index, image cache, SliceDataset's
normalisation, ``create_backbone`` with the bundled weights, exactly what ``selector=series`` reads), and the
embeddings are cached as one .npz under ~/.cache/lss/benchmarks/series_cv/ keyed by the image cache entry.
Off-centre stacks need no second pass: the backbone reads each slice on its own, so they are the same rows
minus the dropped ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from hydra.utils import instantiate
from real_lumbar import REAL_LUMBAR

from lss.data.channels import input_plan
from lss.data.dataset import SliceDataset
from lss.data.slices import labelled_slices
from lss.launch.compose import compose_train_config
from lss.manifest import SOURCE, WEIGHTINGS
from lss.model.backbone import create_backbone
from support import CACHE_DIR

WORKDIR = CACHE_DIR / "series_cv"
SOURCES = {"VB1": "VBs_VB1_", "VB2": "VBs_VB2_"}
"""Source name -> prefix of the original file name in the set's series.csv (its ``source`` column)."""


@dataclass(frozen=True)
class SliceEmbeddings:
    """One row per labelled slice (series, patient, source, weighting, position, is_mid) and its embedding."""

    slices: pd.DataFrame
    embeddings: np.ndarray


def slice_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """Every labelled slice of any weighting, with the source (VB1/VB2: its ``source`` column, in place of the data
    root's name) and weighting from series.csv."""
    labelled = pd.concat([labelled_slices(manifest, weighting) for weighting in WEIGHTINGS], ignore_index=True)
    listed = pd.read_csv(REAL_LUMBAR / "series.csv")
    folder = labelled["path"].map(lambda path: str(Path(path).parent))
    source = listed.set_index("folder")["source"].map(
        lambda name: next(key for key, prefix in SOURCES.items() if name.startswith(prefix))
    )
    return labelled.assign(
        folder=folder,
        source=folder.map(source),
        weighting=folder.map(listed.set_index("folder")["weighting"]),
        patient=folder.map(listed.set_index("folder")["patient"]),
    )


def embedded_slices(batch_size: int = 32) -> SliceEmbeddings:
    """The cached embeddings, computed on the first call (a few minutes on 2 CPU cores)."""
    torch.set_num_threads(1)
    cfg = compose_train_config(
        ["experiment=real", f"data.root={REAL_LUMBAR}", f"paths.cache_dir={WORKDIR / 'cache'}", "data.progress=false"],
        WORKDIR / "job",
    )
    datamodule = instantiate(cfg.data, _convert_="all")
    slices = slice_table(datamodule.manifest())
    plan = input_plan(slices.assign(**{SOURCE: datamodule.sources[0].name}), "T2", context=1)
    images = datamodule.decoded_images(plan)
    cached = WORKDIR / f"embeddings-{cfg.model.backbone}-{datamodule.image_cache_key}.npz"
    if cached.is_file():
        return SliceEmbeddings(slices, np.load(cached)["embeddings"])
    dataset = SliceDataset(
        images, np.zeros(len(slices), np.int64), np.arange(len(slices)), datamodule.mean, datamodule.std, plan.channels
    )
    network = create_backbone(cfg.model.backbone, num_classes=0, pretrained=True, weights=cfg.model.weights).eval()
    parts = []
    with torch.no_grad():
        for start in range(0, len(slices), batch_size):
            batch = torch.stack([dataset.image(row) for row in range(start, min(start + batch_size, len(slices)))])
            parts.append(network(batch).double().numpy())
    embeddings = np.concatenate(parts)
    cached.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cached, embeddings=embeddings)
    return SliceEmbeddings(slices, embeddings)
