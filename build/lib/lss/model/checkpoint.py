"""The checkpoint files train.py writes: read without running code from them, and given their fitted temperature."""

from __future__ import annotations

import collections
import typing
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, ListConfig
from omegaconf.base import ContainerMetadata, Metadata
from omegaconf.nodes import AnyNode

from lss.files import partial_path, publish

HPARAM_CONTAINERS: list[typing.Any] = [
    ListConfig,
    DictConfig,
    ContainerMetadata,
    Metadata,
    AnyNode,
    typing.Any,
    collections.defaultdict,
    list,
    dict,
    int,
    float,
    str,
]
"""Hparams composed by Hydra may be pickled as OmegaConf containers; allowing exactly these keeps
``torch.load(weights_only=True)`` (no arbitrary code from a checkpoint file) and still loads them."""
TEMPERATURE_KEY = "temperature"
"""The classifier's buffer in the checkpoint's state_dict: 1.0 until calibrated (and in older checkpoints)."""


def safe_loading() -> typing.ContextManager[None]:
    """Lets ``torch.load(weights_only=True)`` accept the hparams Hydra composed, and nothing else."""
    return torch.serialization.safe_globals(HPARAM_CONTAINERS)


def read_checkpoint(path: Path) -> dict[str, Any]:
    with safe_loading():
        return typing.cast(dict[str, Any], torch.load(path, map_location="cpu", weights_only=True))


def write_temperature(path: Path, temperature: float) -> None:
    """Store the fitted temperature in the checkpoint file, so whoever loads the weights gets calibrated p_mid."""
    checkpoint = read_checkpoint(path)
    checkpoint["state_dict"][TEMPERATURE_KEY] = torch.tensor(float(temperature))
    partial = partial_path(path)
    torch.save(checkpoint, partial)
    publish(partial, path)
