"""The ``backbone`` encoder: a backbone per image, its feature map pooled to tokens.

MHL family: ``tokens: spatial`` on the 3-channel image, the fusion attends over positions.
RGB family: ``tokens: spatial`` on each isolated channel (1-channel images, set of 3);
``branches: 3`` gives every channel its own backbone weights (the pipeline passes the
set index), ``branches: 1`` shares one backbone.

Grad-CAM reads ``cam_tap``, an identity placed on the last feature map of all branches
together, so one hook sees every image whatever branch encoded it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cellxai_core.errors import ConfigError

from .backbones import build_backbone
from .weights import load_backbone_weights


class BackboneEncoder(nn.Module):
    """images (N, C, H, W) [, set_index (N,)] -> tokens (N, D) (pooled) or (N, L, D) (spatial)."""

    def __init__(
        self,
        in_channels: int,
        arch: str = "cnn3",
        width: int = 16,
        tokens: str = "pooled",
        grid: int | None = 4,
        branches: int = 1,
        embed_dim: int | None = None,
        image_size: int | None = None,
        weights: Path | str | None = None,
    ) -> None:
        super().__init__()
        backbone, feature_dim = build_backbone(arch, in_channels, width=width, image_size=image_size)
        self.branches = nn.ModuleList([backbone] + [copy.deepcopy(backbone) for _ in range(branches - 1)])
        self.cam_tap = nn.Identity()
        self.project = nn.Linear(feature_dim, embed_dim) if embed_dim else None
        self.arch, self.tokens, self.grid = arch, tokens, grid
        self.in_channels = in_channels
        self.uses_set_index = branches > 1
        self.out_dim = embed_dim or feature_dim
        if weights is not None:
            load_backbone_weights(self, self.branches, Path(weights))

    @property
    def cam_layer(self) -> nn.Module:
        """The module Grad-CAM hooks: the last feature map of every branch."""
        return self.cam_tap

    def feature_map(self, images: torch.Tensor, set_index: torch.Tensor | None = None) -> torch.Tensor:
        """(N, D, h, w) feature map, each image through the branch of its set position."""
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise ConfigError(
                f"encoder backbone ({self.arch}) expects images (N, {self.in_channels}, H, W), got {tuple(images.shape)}"
            )
        if len(self.branches) == 1:
            return self.branches[0](images)
        if set_index is None:
            raise ValueError("a backbone with several branches needs set_index (the position of each image in its set)")
        if int(set_index.max()) >= len(self.branches):
            raise ConfigError(
                f"encoder.params.branches is {len(self.branches)} but samples have {int(set_index.max()) + 1} "
                "images in their set; set branches to the set size or to 1"
            )
        order, outs = [], []
        for k, branch in enumerate(self.branches):
            idx = (set_index == k).nonzero().squeeze(1)
            if idx.numel():
                order.append(idx)
                outs.append(branch(images[idx]))
        inverse = torch.argsort(torch.cat(order))
        return torch.cat(outs)[inverse]

    def forward(self, images: torch.Tensor, set_index: torch.Tensor | None = None) -> torch.Tensor:
        fmap = self.cam_tap(self.feature_map(images, set_index))
        if self.tokens == "pooled":
            out = fmap.mean(dim=(2, 3))
        else:
            if self.grid is not None:
                fmap = F.adaptive_avg_pool2d(fmap, self.grid)
            out = fmap.flatten(2).transpose(1, 2)
        return self.project(out) if self.project is not None else out
