"""Backbone feature extractors: images (N, C, H, W) -> feature map (N, D, h, w).

The classifier of a torchvision model is dropped and its first convolution rebuilt for
the input channels (1 for isolated channels). The module names of the torchvision model
are kept, so a torchvision state dict loads into the extractor key for key.
"""

from __future__ import annotations

import difflib
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from cellxai_core.errors import ConfigError

# Top-level children of torchvision models that belong to the classifier, not the features.
HEAD_NAMES = ("avgpool", "fc", "classifier", "head", "heads", "dropout", "flatten")


class CNN3(nn.Module):
    """The paper's 3-layer CNN: three conv3x3-BN-ReLU-maxpool blocks of width, 2 width, 4 width channels."""

    def __init__(self, in_channels: int, width: int = 16) -> None:
        super().__init__()
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        channels = in_channels
        for i, out in enumerate((width, 2 * width, 4 * width), start=1):
            blocks[f"block{i}"] = nn.Sequential(
                nn.Conv2d(channels, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            )
            channels = out
        self.blocks = nn.Sequential(blocks)
        self.out_channels = channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.blocks(images)


class ViTFeatures(nn.Module):
    """A torchvision VisionTransformer without its head; patch tokens as a (N, D, g, g) map.

    Images of another size than the model's are resized to it first (bilinear).
    """

    def __init__(self, vit: nn.Module) -> None:
        super().__init__()
        self.image_size = int(vit.image_size)
        self.patch_size = int(vit.patch_size)
        self.conv_proj = vit.conv_proj
        self.class_token = vit.class_token
        self.encoder = vit.encoder
        self._process_input = vit._process_input

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (self.image_size, self.image_size):
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False)
        x = self._process_input(images)
        cls = self.class_token.expand(x.shape[0], -1, -1)
        x = self.encoder(torch.cat([cls, x], dim=1))[:, 1:]
        g = self.image_size // self.patch_size
        return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], g, g)


def torchvision_names() -> list[str]:
    """Names of the torchvision classification models."""
    import torchvision.models as tvm

    return list(tvm.list_models(module=tvm))


def build_torchvision(arch: str, image_size: int | None = None) -> nn.Module:
    """A randomly initialised torchvision classification model (no download)."""
    import torchvision.models as tvm

    names = torchvision_names()
    if arch not in names:
        close = difflib.get_close_matches(arch, names, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ConfigError(f"encoder.params.arch: unknown backbone '{arch}'; expected 'cnn3' or a torchvision model{hint}")
    kwargs: dict = {}
    if arch.startswith("vit_"):
        kwargs["image_size"] = image_size or 224
    if arch in ("googlenet", "inception_v3"):
        kwargs["aux_logits"] = False
        kwargs["init_weights"] = True
    return tvm.get_model(arch, weights=None, **kwargs)


def adapt_first_conv(model: nn.Module, in_channels: int) -> None:
    """Rebuild the model's first Conv2d for ``in_channels`` input channels (in place)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            if module.in_channels == in_channels:
                return
            new = nn.Conv2d(
                in_channels,
                module.out_channels,
                module.kernel_size,
                stride=module.stride,
                padding=module.padding,
                dilation=module.dilation,
                bias=module.bias is not None,
                padding_mode=module.padding_mode,
            )
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, attr, new)
            return
    raise ConfigError(f"backbone {type(model).__name__} has no Conv2d layer to adapt to {in_channels} channels")


def feature_extractor(model: nn.Module) -> nn.Module:
    """The feature part of a torchvision classification model, names kept, output (N, D, h, w)."""
    from torchvision.models import DenseNet, SwinTransformer, VisionTransformer

    if isinstance(model, VisionTransformer):
        return ViTFeatures(model)
    if isinstance(model, SwinTransformer):  # NHWC features, normalised, permuted to NCHW
        return nn.Sequential(OrderedDict(features=model.features, norm=model.norm, permute=model.permute))
    if isinstance(model, DenseNet):  # DenseNet applies its last ReLU functionally
        return nn.Sequential(OrderedDict(features=model.features, relu=nn.ReLU()))
    if isinstance(getattr(model, "features", None), nn.Module):  # vgg, alexnet, efficientnet, mobilenet, convnext ...
        return nn.Sequential(OrderedDict(features=model.features))
    parts: OrderedDict[str, nn.Module] = OrderedDict()
    for name, child in model.named_children():  # resnet, regnet, shufflenet, googlenet, inception, maxvit
        if name in HEAD_NAMES:
            break
        if name.lower().startswith("aux"):
            continue
        if isinstance(child, nn.ModuleList):
            child = nn.Sequential(*child)
        parts[name] = child
    if not parts:
        raise ConfigError(f"cannot find the feature layers of torchvision model {type(model).__name__}")
    return nn.Sequential(parts)


def feature_width(features: nn.Module, in_channels: int, sizes: tuple[int, ...]) -> int:
    """Channels D of the feature map, measured with one dry run (at the first size the model accepts)."""
    was_training = features.training
    features.eval()
    error: Exception | None = None
    try:
        for size in sizes:
            try:
                with torch.no_grad():
                    return int(features(torch.zeros(1, in_channels, size, size)).shape[1])
            except RuntimeError as exc:  # too small for this architecture; try the next size
                error = exc
    finally:
        features.train(was_training)
    raise ConfigError(f"backbone {type(features).__name__} failed on {in_channels}-channel input: {error}")


def build_backbone(arch: str, in_channels: int, width: int = 16, image_size: int | None = None) -> tuple[nn.Module, int]:
    """A backbone feature extractor and its output channels D."""
    if arch == "cnn3":
        net = CNN3(in_channels, width)
        return net, net.out_channels
    model = build_torchvision(arch, image_size)
    adapt_first_conv(model, in_channels)
    features = feature_extractor(model)
    sizes = ((image_size or 224),) if arch.startswith("vit_") else (96, 224, 299)
    return features, feature_width(features, in_channels, sizes)
