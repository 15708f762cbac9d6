"""OmegaConf resolvers the configs use; registered on import of ``lss.launch`` (compose, train.py, predict.py).

``${backbone_input:${model.backbone},mean}`` reads the backbone's timm ``pretrained_cfg``, so the data node
carries the input size, mean and std the network was trained with instead of restating them.
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

BACKBONE_INPUT = "backbone_input"


def backbone_input(backbone: str, key: str) -> Any:
    from lss.model.backbone import input_config  # timm: imported when a config is resolved, not at start-up

    return input_config(backbone)[key]


def register_resolvers() -> None:
    if not OmegaConf.has_resolver(BACKBONE_INPUT):
        OmegaConf.register_new_resolver(BACKBONE_INPUT, backbone_input)
