"""The ``unet`` encoder: a U-Net (Ronneberger et al. 2015) whose pooled outputs are the tokens.

Tokens are the global average of the bottleneck (what the image contains, coarse) and,
by default (``decoder_tokens``), of the segmentation head's cell-type masks: the U-Net's
own area fraction of cancer, T and dead cells.

``cam_layer``: with decoder tokens, the segmentation head's per-pixel class probabilities
(``cell_masks.probabilities``, full resolution). The tokens are the straight-through
means of these maps, so Grad-CAM there is each pixel's share of the score's linearisation,
graded (the one-hot masks used before gave maps of <= 3 values, masks by construction);
the last decoder conv has the same resolution but its channels also fire on background,
and maps read there put their energy where a uniform map would. Without decoder
tokens, the bottleneck block (H / 2**depth: 21 px at 173 px, depth 3), the only layer
every token then depends on. Any image size works: up-sampling matches skip sizes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import SegmentationEncoder, channel_argmax, in_chunks, one_hot_channels


class DoubleConv(nn.Sequential):
    """(conv 3x3, batch norm, ReLU) twice."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class UpBlock(nn.Module):
    """Bilinear up-sampling to the skip's size (odd sizes welcome), concatenation, DoubleConv."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = DoubleConv(in_channels + skip_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.conv(torch.cat([x, skip], dim=1))


class CellTypeMasks(nn.Module):
    """Segmentation logits (N, 4, H, W) -> cell-type masks (N, 3, H, W), background dropped.

    The value is the one-hot argmax (exactly 0 on background, 1 on each predicted cell), so
    the tokens are the U-Net's area fractions whatever its confidence; the gradient is the
    softmax's (straight-through), so the layer stays differentiable and Grad-CAM reads the
    probabilities (``probabilities``), which is why pre-training must make them confident.
    """

    def __init__(self) -> None:
        super().__init__()
        self.probabilities = nn.Softmax(dim=1)  # Grad-CAM's layer: graded, no parameters

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        soft = self.probabilities(logits)
        hard = one_hot_channels(channel_argmax(soft), soft.shape[1], soft.dtype)
        return (hard + soft - soft.detach())[:, 1:]


class UNetEncoder(SegmentationEncoder):
    """U-Net with ``depth`` down-sampling steps starting at ``base_channels`` channels."""

    name = "unet"

    def build(self, in_channels: int, *, base_channels: int = 16, depth: int = 3, decoder_tokens: bool = True) -> None:
        widths = [base_channels * 2**level for level in range(depth + 1)]
        self.depth = depth
        self.decoder_tokens = decoder_tokens
        self.stem = DoubleConv(in_channels, widths[0])
        self.down = nn.ModuleList(DoubleConv(widths[i], widths[i + 1]) for i in range(depth))
        self.up = nn.ModuleList(UpBlock(widths[i + 1], widths[i], widths[i]) for i in reversed(range(depth)))
        self.classifier = nn.Conv2d(widths[0], self.n_classes, 1)
        self.cell_masks = CellTypeMasks()
        self.out_dim = widths[-1] + (self.n_classes - 1 if decoder_tokens else 0)

    @property
    def cam_layer(self) -> nn.Module:
        """The block Grad-CAM reads (a property, so that it is not registered twice in the state dict).

        With decoder tokens: the per-pixel class probabilities (softmax of the segmentation
        head). The cell-type tokens are their straight-through means, so the gradient there is
        uniform in space and Grad-CAM's map is each pixel's share of the score's linearisation:
        graded, computed everywhere, no mask applied.
        """
        return self.cell_masks.probabilities if self.decoder_tokens else self.down[-1]

    @property
    def cam_reading(self) -> str:
        """How to read Grad-CAM maps of ``cam_layer`` (the gradcam explainer stores it; the report shows it)."""
        if not self.decoder_tokens:
            return f"bottleneck features at 1/{2**self.depth} of the image size: coarse regions, not cells"
        return ("class probabilities of the segmentation head; the cell-type tokens are their means over the image, "
                "so every confidently segmented object of one class carries its class's weight for the explained "
                "output (the colour says which classes count, and on which image); differences within a class "
                "come from the U-Net's confidence")

    def _encode(self, images: torch.Tensor) -> list[torch.Tensor]:
        features = [self.stem(images)]
        for block in self.down:
            features.append(block(F.max_pool2d(features[-1], 2)))
        return features

    def _decode(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = features[-1]
        for block, skip in zip(self.up, reversed(features[:-1])):
            x = block(x, skip)
        return x

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> logits (N, 4, H, W)."""
        return self.classifier(self._decode(self._encode(images)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> tokens (N, out_dim)."""
        return in_chunks(self._tokens, images)

    def _tokens(self, images: torch.Tensor) -> torch.Tensor:
        features = self._encode(images)
        tokens = [features[-1].mean(dim=(2, 3))]
        if self.decoder_tokens:
            tokens.append(self.cell_masks(self.classifier(self._decode(features))).mean(dim=(2, 3)))
        return torch.cat(tokens, dim=1)

    def extra_repr(self) -> str:
        return f"depth={self.depth}, decoder_tokens={self.decoder_tokens}, out_dim={self.out_dim}"

