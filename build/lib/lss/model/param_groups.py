"""Transfer-learning parameter groups (paper §4): transferred layers at lr, the new head at 20 x lr."""

from __future__ import annotations

from typing import Any

import torch.nn as nn


def transfer_learning_param_groups(model: Any, lr: float, head_lr_multiplier: float) -> list[dict[str, Any]]:
    """Split a timm model by its classifier (``get_classifier``), so the head is found for any architecture."""
    classifier: nn.Module = model.get_classifier()
    head_ids = {id(parameter) for parameter in classifier.parameters()}
    head = [parameter for parameter in model.parameters() if id(parameter) in head_ids]
    body = [parameter for parameter in model.parameters() if id(parameter) not in head_ids]
    if not head:
        raise ValueError(f"{type(model).__name__} has no classifier parameters; cannot apply the head learning rate")
    return [
        {"params": body, "lr": lr, "name": "transferred"},
        {"params": head, "lr": lr * head_lr_multiplier, "name": "head"},
    ]
