"""Small real components for the viewer tests: a two-channel dataset with classes, a conv encoder
that also measures (mean of each channel), a mean-and-delta fusion and k-means.

Self-contained (these tests need nothing from the repository's ``tests/``) and fast, so the
reader is tested on real runs of the pipeline. ``Spots.reads`` counts sample reads, to check
that opening a run reads no images.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cellxai_core import Sample, hookimpl


class SpotsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(12, ge=4)
    size: int = Field(20, ge=8)


class Spots:
    """Two stains over two time points; 'bright' samples have a bright spot in channel a, 'dim' ones a faint one."""

    channels = ("a", "b")
    set_axis = "time"
    set_size = 2
    classes = ("dim", "bright")
    meta_keys = ("plate", "well")
    truth_keys = ("class",)
    reads = 0

    def __init__(self, n: int, size: int) -> None:
        self.n, self.size = n, size
        self.image_size = (size, size)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Sample:
        if not 0 <= i < self.n:
            raise IndexError(i)
        Spots.reads += 1
        rng = np.random.default_rng(i)
        label = i % 2
        imgs = rng.uniform(0, 0.1, (2, 2, self.size, self.size)).astype(np.float32)
        c = self.size // 2
        imgs[:, 0, c - 3 : c + 3, c - 3 : c + 3] += 0.8 if label else 0.3
        imgs[:, 1, :4, :4] += 0.5
        return Sample(id=f"spot{i:02d}", images=np.clip(imgs, 0, 1), channels=self.channels, set_axis="time",
                      meta={"plate": "P1", "well": f"A{i + 1:02d}"}, truth={"class": self.classes[label]})


class ConvParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(4, ge=1)


def _conv_class():
    from torch import nn

    class Conv(nn.Module):
        """Two conv layers, mean pooled (Grad-CAM reads conv2)."""

        def __init__(self, width: int, in_channels: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
            self.conv2 = nn.Conv2d(width, width, 3, padding=1)
            self.act = nn.ReLU()
            self.out_dim = width
            self.cam_layer = "conv2"

        def forward(self, x):  # noqa: ANN001, ANN201
            return self.act(self.conv2(self.act(self.conv1(x)))).mean(dim=(2, 3))

    return Conv


def make_conv(width: int, in_channels: int):
    """The conv encoder that also measures each channel's mean (named measurements for the features table)."""

    class Measuring(_conv_class()):
        handcrafted_names = [f"channel{j}_mean" for j in range(in_channels)]

        def handcrafted(self, images):  # noqa: ANN001, ANN201
            return images.mean(dim=(3, 4))

    return Measuring(width, in_channels)


def make_plain_conv(width: int, in_channels: int):
    """The conv encoder without measurements (the classify task trains on the tokens alone)."""
    return _conv_class()(width, in_channels)


def make_delta(token_dim: int, side_dim: int, set_size: int):
    from torch import nn

    class Delta(nn.Module):
        """Mean over the set and last-minus-first (side features too)."""

        def __init__(self) -> None:
            super().__init__()
            self.out_dim = 2 * token_dim + side_dim
            self.attention = None

        def forward(self, tokens, side=None):  # noqa: ANN001, ANN201
            import torch

            parts = [tokens.mean(1), tokens[:, -1] - tokens[:, 0]]
            if side is not None:
                parts.append(side[:, -1] - side[:, 0])
            return torch.cat(parts, dim=1)

    return Delta()


class KMeansParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n_clusters: int = Field(3, ge=1)


def make_kmeans(n_clusters: int):
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=n_clusters, random_state=0, n_init=4)


@hookimpl
def cellxai_datasets(register):
    register("viewer-spots", summary="Two stains, two time points, two classes.", params=SpotsParams, target=f"{__name__}:Spots")


@hookimpl
def cellxai_encoders(register):
    register("viewer-conv", summary="Two conv layers; channel means.", params=ConvParams, target=f"{__name__}:make_conv")
    register("viewer-plain-conv", summary="Two conv layers.", params=ConvParams, target=f"{__name__}:make_plain_conv")


@hookimpl
def cellxai_fusions(register):
    register("viewer-delta", summary="Mean and last-minus-first over the set.", target=f"{__name__}:make_delta")


@hookimpl
def cellxai_clusterers(register):
    register("viewer-kmeans", summary="k-means.", params=KMeansParams, target=f"{__name__}:make_kmeans")


CLUSTER = {  # RGB microwells over three days, Grad-CAM when the gradcam plugin is installed
    "seed": 0,
    "device": "cpu",
    "task": "cluster",
    "batch_size": 8,
    "dataset": {"name": "synthetic-microwell", "params": {"n_wells": 12, "days": 3, "size": 48}},
    "encoder": {"name": "viewer-conv"},
    "fusion": {"name": "viewer-delta"},
    "clusterer": {"name": "viewer-kmeans", "params": {"n_clusters": 3}},
    "explainers": [],
    "quality": False,
}

CLASSIFY = {  # two stains (one image layer per channel), no explainers
    "seed": 0,
    "device": "cpu",
    "task": "classify",
    "batch_size": 8,
    "dataset": {"name": "viewer-spots", "params": {"n": 8, "size": 16}},
    "encoder": {"name": "viewer-plain-conv"},
    "fusion": {"name": "viewer-delta"},
    "classify": {"folds": 2, "epochs": 1, "batch_size": 8},
}
