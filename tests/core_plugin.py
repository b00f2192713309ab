"""Small but real components registered in-process to test the core without the plugins.

A dataset with two planted programs, a tiny conv encoder, a mean/last-minus-first
fusion and scikit-learn k-means. Nothing here returns constants.
"""

from __future__ import annotations

import time

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cellxai_core import Sample, hookimpl


class BlobsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(24, ge=1)
    size: int = Field(16, ge=11, description="the blob's centre is drawn 5 px from the border")
    seed: int = Field(0, ge=0, description="numpy's default_rng takes no negative seed")
    path: str | None = Field(None, description="optional folder that must exist (to test path errors)")


class Blobs:
    """Wells of S=3 two-channel images; program 'grow' has a blob growing, 'shrink' one shrinking."""

    channels = ("a", "b")
    set_axis = "time"
    set_size = 3
    meta_keys = ("plate", "row")
    truth_keys = ("program", "counts")
    classes = None

    def __init__(self, n: int, size: int, seed: int, path: str | None = None) -> None:
        from cellxai_core.errors import DataError
        import os

        if path is not None and not os.path.exists(path):
            raise DataError(f"{path}: folder does not exist")
        self.n, self.size, self.seed = n, size, seed
        self.image_size = (size, size)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Sample:
        if not 0 <= i < self.n:
            raise IndexError(i)
        rng = np.random.default_rng([self.seed, i])
        program = "grow" if i % 2 == 0 else "shrink"
        radii = [2, 4, 6] if program == "grow" else [6, 4, 2]
        yy, xx = np.mgrid[: self.size, : self.size]
        imgs = np.zeros((3, 2, self.size, self.size), np.float32)
        cy, cx = rng.integers(5, self.size - 5, size=2)
        for t, r in enumerate(radii):
            disk = ((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r
            imgs[t, 0][disk] = 0.9
            imgs[t, 1][disk] = 0.4
        imgs += rng.normal(0, 0.05, imgs.shape).astype(np.float32)
        counts = np.array([[r, 0, 0] for r in radii])
        return Sample(
            id=f"w{i:03d}", images=np.clip(imgs, 0, 1), channels=self.channels, set_axis="time",
            meta={"plate": "P1", "row": int(i // 8)}, truth={"program": program, "counts": counts},
        )


class TinyConvParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(8, ge=1)
    delay: float = Field(0.0, ge=0, description="seconds to sleep per batch (to test interruption)")


def make_tiny_conv(width: int, delay: float, in_channels: int):
    import torch
    from torch import nn

    class TinyConv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
            self.conv2 = nn.Conv2d(width, width, 3, padding=1)
            self.out_dim = width
            self.cam_layer = self.conv2

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if delay:
                time.sleep(delay)
            h = torch.relu(self.conv2(torch.relu(self.conv1(x))))
            return h.mean(dim=(2, 3))

        def handcrafted(self, images: torch.Tensor) -> torch.Tensor:
            return images.mean(dim=(3, 4))

    model = TinyConv()
    model.handcrafted_names = ["a_mean", "b_mean"] if in_channels == 2 else [f"c{i}_mean" for i in range(in_channels)]  # one per channel
    return model


def make_delta_fusion(token_dim: int, side_dim: int, set_size: int):
    import torch
    from torch import nn

    class DeltaFusion(nn.Module):
        """Mean over the set and last-minus-first: order matters."""

        def __init__(self) -> None:
            super().__init__()
            self.out_dim = 2 * token_dim + side_dim
            self.attention = None

        def forward(self, tokens: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
            parts = [tokens.mean(1), tokens[:, -1] - tokens[:, 0]]
            if side is not None:
                parts.append(side[:, -1] - side[:, 0])
            return torch.cat(parts, dim=1)

    return DeltaFusion()


class KMeansParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n_clusters: int = Field(2, ge=1)
    random_state: int = Field(0, ge=0, lt=2**32, description="scikit-learn's range")


def make_kmeans(n_clusters: int, random_state: int):
    from sklearn.cluster import KMeans
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), KMeans(n_clusters=n_clusters, random_state=random_state, n_init=4))


class CountParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClusterSizes:
    """An explainer that stores how many samples each cluster has."""

    requires = ("labels",)
    after = ()
    tasks = ("cluster",)

    def run(self, ctx, out) -> None:
        labels = ctx.labels()
        ks = sorted(set(labels.tolist()))
        out.write("sizes", np.array([(labels == k).sum() for k in ks], dtype=np.int64))
        out.attrs["clusters"] = ks


@hookimpl
def cellxai_datasets(register):
    register("test-blobs", summary="Planted growing / shrinking blobs.", params=BlobsParams, target=f"{__name__}:Blobs")


@hookimpl
def cellxai_encoders(register):
    register("test-conv", summary="Two conv layers, mean pooled.", params=TinyConvParams, target=f"{__name__}:make_tiny_conv")


@hookimpl
def cellxai_fusions(register):
    register("test-delta", summary="Mean and last-minus-first over the set.", target=f"{__name__}:make_delta_fusion")


@hookimpl
def cellxai_clusterers(register):
    register("test-kmeans", summary="scikit-learn k-means on standardised features.", params=KMeansParams, target=f"{__name__}:make_kmeans")


@hookimpl
def cellxai_explainers(register):
    register("test-sizes", summary="Cluster sizes.", target=f"{__name__}:ClusterSizes")


PIPELINE = {
    "seed": 0,
    "device": "cpu",
    "task": "cluster",
    "batch_size": 4,
    "chunk_size": 8,
    "dataset": {"name": "test-blobs", "params": {"n": 24}},
    "encoder": {"name": "test-conv", "params": {"width": 8}},
    "fusion": {"name": "test-delta"},
    "clusterer": {"name": "test-kmeans", "params": {"n_clusters": 2}},
    "explainers": [{"name": "test-sizes"}],
}
