"""Tiny components shared by the gradcam plugin's pipeline tests (resume, Dask): two-channel 16 px discs, two
convs, a mean fusion, k-means. Each test registers them under its own names, with its own dataset class."""

from __future__ import annotations

import numpy as np

from cellxai_core import Sample

CHANNELS = ("a", "b")


def disc_sample(i: int) -> Sample:
    """S=2 two-channel 16 px images with a bright disc in channel ``i % 2`` (the planted program)."""
    rng = np.random.default_rng([7, i])
    yy, xx = np.mgrid[:16, :16]
    images = rng.random((2, 2, 16, 16)).astype(np.float32) * 0.05
    for s in range(2):
        cy, cx_ = rng.integers(4, 12, size=2)
        images[s, i % 2][(yy - cy) ** 2 + (xx - cx_) ** 2 <= 9] = 0.9
    return Sample(id=f"d{i}", images=images, channels=CHANNELS, set_axis="time", truth={"program": i % 2})


def make_conv(in_channels: int):
    from torch import nn

    class Conv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.conv2, self.out_dim = nn.Conv2d(in_channels, 6, 3, padding=1), nn.Conv2d(6, 6, 3, padding=1), 6
            self.cam_layer = self.conv2

        def forward(self, x):
            return self.conv2(self.conv1(x).relu()).relu().mean(dim=(2, 3))

    return Conv()


def make_mean(token_dim: int, side_dim: int, set_size: int):
    from torch import nn

    class Mean(nn.Module):
        out_dim = token_dim

        def forward(self, tokens, side=None):
            return tokens.mean(dim=1)

    return Mean()


def make_kmeans():
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=2, random_state=0, n_init=4)
