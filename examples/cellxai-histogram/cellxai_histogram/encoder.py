"""A per-channel soft intensity histogram as a torch encoder.

A fixed 1x1 convolution computes, for every pixel, its distance to each bin centre;
a Gaussian kernel turns distances into soft bin memberships, and their spatial mean
is the histogram. The 1x1 convolution is the ``cam_layer``: Grad-CAM on it shows
which pixels' intensities drive a decision.
"""

from __future__ import annotations

import torch
from torch import nn


class IntensityHistogram(nn.Module):
    def __init__(self, bins: int = 16, bandwidth: float = 0.5, *, in_channels: int) -> None:
        super().__init__()
        self.bins, self.in_channels = bins, in_channels
        self.sigma = bandwidth / bins
        self.distance = nn.Conv2d(in_channels, in_channels * bins, kernel_size=1, groups=in_channels)
        centres = (torch.arange(bins, dtype=torch.float32) + 0.5) / bins
        with torch.no_grad():
            self.distance.weight.fill_(1.0)
            self.distance.bias.copy_(-centres.repeat(in_channels))
        self.distance.requires_grad_(False)
        self.out_dim = in_channels * bins
        self.cam_layer = self.distance

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        membership = torch.exp(-0.5 * (self.distance(images) / self.sigma) ** 2)
        membership = membership.reshape(images.shape[0], self.in_channels, self.bins, *images.shape[2:])
        membership = membership / membership.sum(dim=2, keepdim=True).clamp_min(1e-12)
        return membership.mean(dim=(3, 4)).reshape(images.shape[0], self.out_dim)
