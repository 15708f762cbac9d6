"""Grad-CAM at the deepest timm feature map: it finds the cat and the coffee, and works on every backbone lss offers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lss.model.backbone import create_backbone, input_config
from lss.model.saliency import cam_layer, grad_cam, overlay

TABBY, ESPRESSO = 281, 967


def normalised(photo: np.ndarray, size: tuple[int, int], backbone: str) -> torch.Tensor:
    config = input_config(backbone)
    image = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255
    image = F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)
    return (image - torch.tensor(config["mean"]).view(1, 3, 1, 1)) / torch.tensor(config["std"]).view(1, 3, 1, 1)


def test_with_imagenet_weights_the_cat_map_lies_on_the_cat_and_the_coffee_map_on_the_coffee() -> None:
    """A photo made of scikit-image's cat (left half) and coffee (right half), explained once per class."""
    data = pytest.importorskip("skimage.data", reason="scikit-image (the dev extra) holds the test photos")
    backbone = "tf_efficientnet_lite0"
    photo = torch.cat(
        [normalised(data.chelsea(), (224, 112), backbone), normalised(data.coffee(), (224, 112), backbone)], dim=3
    )
    network = create_backbone(backbone, num_classes=1000, pretrained=True)
    cat_map, coffee_map = grad_cam(network, torch.cat([photo, photo]), [TABBY, ESPRESSO])
    assert cat_map[:, :112].sum() > 2 * cat_map[:, 112:].sum()
    assert coffee_map[:, 112:].sum() > 2 * coffee_map[:, :112].sum()


@pytest.mark.parametrize(
    ("backbone", "layer", "size"),
    [
        ("inception_resnet_v2", "conv2d_7b", 128),
        ("tf_efficientnet_lite0", "blocks.6", 64),
        ("test_resnet", "layer4", 64),
    ],
)
def test_grad_cam_works_on_each_backbone_at_its_deepest_feature_map(backbone: str, layer: str, size: int) -> None:
    """Sizes give a 2x2 deepest map at least: a 1x1 map is one number, which Grad-CAM's min-max scaling zeroes."""
    torch.manual_seed(0)
    network = create_backbone(backbone, num_classes=2, pretrained=False)
    torch.nn.init.normal_(network.get_classifier().weight)  # a head that prefers some features, as training leaves it
    assert cam_layer(network) is network.get_submodule(layer)
    maps = grad_cam(network, torch.randn(2, 3, size, size), [1, 0])
    assert maps.shape == (2, size, size) and np.isfinite(maps).all()
    assert maps.min() >= 0 and 0 < maps.max() <= 1 + 1e-6  # a random head finds evidence for one class at least


def test_an_overlay_is_the_slice_in_colour_with_the_map_over_it() -> None:
    grey = np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1))
    saliency = np.zeros((32, 32), dtype=np.float32)
    saliency[:16] = 1.0
    drawn = overlay(grey, saliency)
    assert drawn.shape == (32, 32, 3) and drawn.dtype == np.uint8
    hot, cold = drawn[:16].astype(int), drawn[16:].astype(int)
    assert (hot[..., 0] - hot[..., 2]).mean() > 50 > (cold[..., 0] - cold[..., 2]).mean()  # red where the map is high


def test_a_network_without_timm_feature_info_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="feature_info"):
        cam_layer(torch.nn.Sequential(torch.nn.Conv2d(3, 2, 3)))
