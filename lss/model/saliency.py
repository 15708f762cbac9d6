"""Where the network looked: Grad-CAM (the grad-cam package) at the deepest feature map timm names, any backbone.

timm lists every backbone's feature maps in ``feature_info``; its last entry is the deepest map before
pooling (``conv2d_7b`` of Inception-ResNet-v2, ``blocks.6`` of EfficientNet-Lite0, ``layer4`` of a
ResNet), which is where Grad-CAM is usually taken, so no backbone needs its own rule.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn as nn


def cam_layer(network: nn.Module) -> nn.Module:
    """The module of the last entry of the backbone's timm ``feature_info``."""
    info = getattr(network, "feature_info", None)
    if not isinstance(info, list) or not info or "module" not in info[-1]:
        raise ValueError(
            f"{type(network).__name__} has no timm feature_info naming its feature maps; "
            "Grad-CAM needs a timm backbone (model.backbone=<timm name>)"
        )
    return network.get_submodule(info[-1]["module"])


@contextlib.contextmanager
def denormals_flushed() -> Iterator[None]:
    """A backward pass on the CPU can crawl through denormal floats (many times slower through Inception-ResNet-v2
    on random weights); flushed to zero, values below 1e-38 change no normalised map."""
    flushing = torch.set_flush_denormal(True)  # False where the CPU cannot flush: nothing to undo
    try:
        yield
    finally:
        if flushing:
            torch.set_flush_denormal(False)


def grad_cam(network: nn.Module, images: torch.Tensor, classes: Sequence[int]) -> np.ndarray:
    """(N, H, W) Grad-CAM maps in [0, 1] of normalised (N, 3, H, W) images, each for the class given beside it."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    device = next(network.parameters()).device
    with denormals_flushed(), GradCAM(model=network.eval(), target_layers=[cam_layer(network)]) as cam:
        maps = cam(input_tensor=images.to(device), targets=[ClassifierOutputTarget(int(c)) for c in classes])
    return np.asarray(maps, dtype=np.float32)


def overlay(grey: np.ndarray, saliency: np.ndarray, image_weight: float = 0.6) -> np.ndarray:
    """An (H, W) uint8 slice with its (H, W) map in [0, 1] drawn over it as a jet heat map: (H, W, 3) uint8 RGB."""
    from pytorch_grad_cam.utils.image import show_cam_on_image

    rgb = np.repeat((np.asarray(grey, dtype=np.float32) / 255.0)[..., None], 3, axis=2)
    return np.asarray(show_cam_on_image(rgb, saliency, use_rgb=True, image_weight=image_weight), dtype=np.uint8)
