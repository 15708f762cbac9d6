"""Real ImageNet weights, offline: the bundled EfficientNet-Lite0 recognises scikit-image's photos."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lss.model.backbone import create_backbone, input_config
from lss.model.bundled_weights import BundledWeightsMismatch, efficientnet_lite0_file, in_order

CATS = range(281, 286)  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = {967, 968, 504}  # espresso, cup, coffee mug


def imagenet_top5(model: torch.nn.Module, photo) -> list[int]:
    """Top-5 ImageNet classes of an RGB uint8 photo, resized and normalised as the backbone was trained."""
    config = input_config("tf_efficientnet_lite0")
    image = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255
    image = F.interpolate(image, size=config["input_size"], mode="bilinear", antialias=True, align_corners=False)
    image = (image - torch.tensor(config["mean"]).view(1, 3, 1, 1)) / torch.tensor(config["std"]).view(1, 3, 1, 1)
    with torch.inference_mode():
        return model.eval()(image)[0].topk(5).indices.tolist()


def test_the_bundled_weights_are_imagenets_a_cat_is_a_cat_and_coffee_is_coffee() -> None:
    data = pytest.importorskip("skimage.data", reason="scikit-image (the dev extra) holds the test photos")
    model = create_backbone("tf_efficientnet_lite0", num_classes=1000, pretrained=True)
    # the mapped 1000-class head is kept when num_classes is 1000: classify with it
    assert imagenet_top5(model, data.chelsea())[0] in CATS
    assert imagenet_top5(model, data.coffee())[0] in COFFEE


def test_transfer_learning_keeps_the_imagenet_body_and_replaces_the_head() -> None:
    imagenet = create_backbone("tf_efficientnet_lite0", num_classes=1000, pretrained=True)
    transfer = create_backbone("tf_efficientnet_lite0", num_classes=2, pretrained=True)
    assert torch.equal(transfer.conv_stem.weight, imagenet.conv_stem.weight)
    assert transfer.get_classifier().out_features == 2
    scratch = create_backbone("tf_efficientnet_lite0", num_classes=2, pretrained=False)
    assert not torch.equal(scratch.conv_stem.weight, imagenet.conv_stem.weight)


def test_a_state_dict_that_does_not_line_up_is_refused_not_partly_loaded() -> None:
    import timm

    source = torch.load(efficientnet_lite0_file(), map_location="cpu", weights_only=True)
    with pytest.raises(BundledWeightsMismatch, match="tensors"):
        in_order(source, timm.create_model("resnet18"), "lite0.pth")
    first = next(iter(source))
    shifted = {f"x{key}": value for key, value in source.items() if key != first} | {first: source[first]}
    with pytest.raises(BundledWeightsMismatch, match="does not fit"):
        in_order(shifted, timm.create_model("tf_efficientnet_lite0"), "lite0.pth")
