"""``resnet18`` / ``resnet34`` encoders: torchvision ResNets, the paper's comparison rows (Table 1).

Random initialisation (nothing is downloaded) or ``weights: PATH``. The first conv is
rebuilt for the dataset's channel count. Tokens are the global average of ``layer4``
(512 values); ``cam_layer`` is the last block of ``layer4`` (stride 32, the usual
Grad-CAM layer of a ResNet). For segmentation pre-training, as for the U-Net, a light
FCN head sums 1x1 projections of layer1..layer4 at layer1's resolution (stride 4).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import SegmentationEncoder, in_chunks


class ResNetEncoder(SegmentationEncoder):
    """A torchvision ResNet trunk with an FCN segmentation head for pre-training."""

    depth = 18

    def build(self, in_channels: int) -> None:
        import torchvision

        trunk = getattr(torchvision.models, f"resnet{self.depth}")(weights=None)
        if in_channels != 3:
            trunk.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        trunk.fc = nn.Identity()
        self.trunk = trunk
        widths = (64, 128, 256, 512)
        self.lateral = nn.ModuleList(nn.Conv2d(w, 32, 1) for w in widths)
        self.head = nn.Sequential(
            nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.Conv2d(32, self.n_classes, 1),
        )
        self.out_dim = 512

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"resnet{self.depth}"

    def adapt_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Plain torchvision ResNet weights (``conv1.weight`` ...) go into the trunk; its ``fc`` is dropped."""
        if any(k.startswith("trunk.") for k in state):
            return state
        return {f"trunk.{k}": v for k, v in state.items() if not k.startswith("fc.")}

    @property
    def cam_layer(self) -> nn.Module:
        return self.trunk.layer4[-1]

    def _stages(self, images: torch.Tensor) -> list[torch.Tensor]:
        t = self.trunk
        x = t.maxpool(t.relu(t.bn1(t.conv1(images))))
        out = []
        for layer in (t.layer1, t.layer2, t.layer3, t.layer4):
            x = layer(x)
            out.append(x)
        return out

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        stages = self._stages(images)
        size = stages[0].shape[-2:]
        x = sum(
            F.interpolate(lat(s), size=size, mode="bilinear", align_corners=False)
            for lat, s in zip(self.lateral, stages)
        )
        logits = self.head(x)
        return F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return in_chunks(lambda x: self._stages(x)[-1].mean(dim=(2, 3)), images)


class ResNet18Encoder(ResNetEncoder):
    depth = 18


class ResNet34Encoder(ResNetEncoder):
    depth = 34
