"""A trained classifier from a checkpoint file or from the MLflow run that logged it.

Checkpoints carry the modality, input size, mean and std (``MidSliceClassifier`` hparams), so
prediction needs nothing else; ImageNet weights are never sought (``pretrained=False``), the
checkpoint's own weights replace them.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import torch

from lss import tracking
from lss.errors import ConfigError
from lss.model.checkpoint import safe_loading
from lss.model.module import MidSliceClassifier


def resolve_device(device: str) -> torch.device:
    """``auto`` is the GPU when there is one, else the CPU; anything else is passed to torch."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_checkpoint(path: Path) -> MidSliceClassifier:
    if not path.is_file():
        raise ConfigError(
            f"checkpoint={path} does not exist; give a .ckpt written by train.py, "
            "or run_id=<MLflow run id> to use the checkpoint a training run logged"
        )
    with safe_loading():
        model = MidSliceClassifier.load_from_checkpoint(
            path, optimizer=None, pretrained=False, compile=False, map_location="cpu"
        )
    if model.hparams.get("modality") is None:
        raise ConfigError(
            f"checkpoint={path} does not say which modality it was trained on; retrain it with the current train.py"
        )
    return model.eval()


def load_classifier(
    checkpoint: str | Path | None = None,
    run_id: str | None = None,
    tracking_uri: str | None = None,
    keep_run_config: Path | None = None,
) -> MidSliceClassifier:
    """From exactly one of ``checkpoint`` or ``run_id``; the run's resolved config is copied to ``keep_run_config``."""
    if (checkpoint is None) == (run_id is None):
        raise ConfigError("give exactly one of checkpoint=PATH or run_id=MLFLOW_RUN_ID")
    if checkpoint is not None:
        return load_checkpoint(Path(checkpoint).expanduser())
    with tempfile.TemporaryDirectory(prefix="lss-checkpoint-") as scratch:
        weights, config = tracking.download_run_checkpoint(
            tracking.resolve_tracking_uri(tracking_uri), str(run_id), Path(scratch)
        )
        if keep_run_config is not None and config is not None:
            keep_run_config.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(config, keep_run_config)
        return load_checkpoint(weights)
