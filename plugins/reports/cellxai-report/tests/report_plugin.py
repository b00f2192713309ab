"""Small real components for the report tests: wells of three programs, cells of two classes,
a conv encoder, a mean-and-delta fusion, a dropout fusion and k-means.

Self-contained (this distribution's tests need nothing from the repository's ``tests/``),
so that the report tests run the real pipeline in seconds, whatever plugins are installed.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cellxai_core import Sample, hookimpl


class Generated:
    """Samples generated on access from (seed, index)."""

    set_size = 1

    def __init__(self, n: int, size: int, seed: int, days: int | None = None) -> None:
        self.n, self.size, self.seed = n, size, seed
        self.image_size = (size, size)
        if days is not None:
            self.days = self.set_size = days

    def __len__(self) -> int:
        return self.n

    def rng(self, i: int) -> np.random.Generator:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.random.default_rng([self.seed, i])


class CellsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(30, ge=4)
    size: int = Field(24, ge=8)
    seed: int = 0


class Cells(Generated):
    """RGB cells: 'metastatic' cells are larger with bright vimentin (R); 'normal' small and dim."""

    channels = ("vimentin", "actin", "DAPI")
    set_axis = "image"
    set_size = 1
    classes = ("normal", "metastatic")
    meta_keys = ("plate", "well", "site")
    truth_keys = ("class",)

    def __getitem__(self, i: int) -> Sample:
        rng = self.rng(i)
        label = i % 2
        s = self.size
        yy, xx = np.mgrid[:s, :s]
        cy, cx = rng.uniform(0.4 * s, 0.6 * s, 2)
        r = s * (0.33 if label else 0.22)
        d2 = (yy - cy) ** 2 + (xx - cx) ** 2
        cell = (d2 < r * r).astype(np.float32)
        nucleus = (d2 < (0.4 * r) ** 2).astype(np.float32)
        img = rng.uniform(0, 0.08, (3, s, s)).astype(np.float32)
        img[0] += cell * (0.8 if label else 0.3)
        img[1] += cell * 0.4
        img[2] += nucleus * 0.8
        return Sample(
            id=f"cell{i:03d}", images=np.clip(img, 0, 1)[None], channels=self.channels, set_axis="image",
            meta={"plate": "P1", "well": f"{'ABCD'[i % 4]}{1 + i // 4:02d}", "site": 1},
            truth={"class": self.classes[label]},
        )


class WellsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(24, ge=3)
    size: int = Field(32, ge=16)
    days: int = Field(4, ge=2)
    seed: int = 0


PROGRAMS = {  # per-day growth factor of (T cells, cancer cells)
    "killing": (1.5, 0.55),
    "escape": (0.9, 1.5),
    "stalemate": (1.0, 1.0),
}


class Wells(Generated):
    """Microwells over days, T cells red and cancer cells green, three planted programs."""

    channels = ("t_cell", "cancer")
    set_axis = "time"
    meta_keys = ("plate", "well", "condition")
    truth_keys = ("program",)
    classes = None

    def __getitem__(self, i: int) -> Sample:
        rng = self.rng(i)
        program = list(PROGRAMS)[i % len(PROGRAMS)]
        growth = PROGRAMS[program]
        s = self.size
        yy, xx = np.mgrid[:s, :s]
        imgs = rng.uniform(0, 0.05, (self.days, 2, s, s)).astype(np.float32)
        for t in range(self.days):
            for c, base in enumerate((4, 6)):
                for _ in range(int(round(base * growth[c] ** t))):
                    cy, cx = rng.uniform(2, s - 2, 2)
                    imgs[t, c][(yy - cy) ** 2 + (xx - cx) ** 2 <= 2.2**2] = rng.uniform(0.7, 1.0)
        return Sample(
            id=f"well{i:03d}", images=imgs, channels=self.channels, set_axis="time",
            meta={"plate": "P1", "well": f"{'ABCDEFGH'[i % 8]}{1 + i // 8:02d}", "condition": "co-culture"},
            truth={"program": program},
        )


class ConvParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(8, ge=1)


def make_conv(width: int, in_channels: int):
    from torch import nn

    class Conv(nn.Module):
        """Two conv layers, mean pooled (Grad-CAM reads conv2)."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
            self.conv2 = nn.Conv2d(width, width, 3, padding=1)
            self.act = nn.ReLU()
            self.out_dim = width
            self.cam_layer = "conv2"

        def forward(self, x):  # noqa: ANN001, ANN201
            return self.act(self.conv2(self.act(self.conv1(x)))).mean(dim=(2, 3))

    return Conv()


def make_well_conv(width: int, in_channels: int):
    """The conv encoder plus human-designed features: the area fraction of each cell type (channel)."""
    conv = make_conv(width, in_channels)

    class WellConv(type(conv)):
        handcrafted_names = ["t_cell_area", "cancer_area"]

        def handcrafted(self, images):  # noqa: ANN001, ANN201
            return (images > 0.5).float().mean(dim=(3, 4))

    well = WellConv()
    return well


class DropParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dropout: float = Field(0.3, ge=0, lt=1)


def make_mean_dropout(dropout: float, token_dim: int, side_dim: int, set_size: int):
    from torch import nn

    class MeanDropout(nn.Module):
        """Mean over the set, then dropout (so MC-dropout has something to sample)."""

        def __init__(self) -> None:
            super().__init__()
            self.drop = nn.Dropout(dropout)
            self.out_dim = token_dim
            self.attention = None

        def forward(self, tokens, side=None):  # noqa: ANN001, ANN201
            return self.drop(tokens.mean(dim=1))

    return MeanDropout()


def make_delta(token_dim: int, side_dim: int, set_size: int):
    from torch import nn

    class Delta(nn.Module):
        """Mean over the set and last-minus-first (side features too): a well's trend matters."""

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
    random_state: int = 0


def make_kmeans(n_clusters: int, random_state: int):
    from sklearn.cluster import KMeans
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), KMeans(n_clusters=n_clusters, random_state=random_state, n_init=4))


@hookimpl
def cellxai_clusterers(register):
    register("report-kmeans", summary="k-means on standardised features.", params=KMeansParams, target=f"{__name__}:make_kmeans")


@hookimpl
def cellxai_datasets(register):
    register("report-cells", summary="Two classes of RGB cells.", params=CellsParams, target=f"{__name__}:Cells")
    register("report-wells", summary="Microwells over days, three programs.", params=WellsParams, target=f"{__name__}:Wells")


@hookimpl
def cellxai_encoders(register):
    register("report-conv", summary="Two conv layers.", params=ConvParams, target=f"{__name__}:make_conv")
    register("report-well-conv", summary="Two conv layers, area of each cell type.", params=ConvParams, target=f"{__name__}:make_well_conv")


@hookimpl
def cellxai_fusions(register):
    register("report-mean-dropout", summary="Mean over the set, dropout.", params=DropParams, target=f"{__name__}:make_mean_dropout")
    register("report-delta", summary="Mean and last-minus-first over the set.", target=f"{__name__}:make_delta")


CLASSIFY = {
    "seed": 0,
    "device": "cpu",
    "task": "classify",
    "batch_size": 8,
    "dataset": {"name": "report-cells", "params": {"n": 30, "size": 24}},
    "encoder": {"name": "report-conv", "params": {"width": 8}},
    "fusion": {"name": "report-mean-dropout"},
    "classify": {"folds": 3, "epochs": 3, "lr": 0.05, "batch_size": 8},
    "uncertainty": {"mc_samples": 4},
}

CLUSTER = {
    "seed": 0,
    "device": "cpu",
    "task": "cluster",
    "batch_size": 8,
    "chunk_size": 16,
    "dataset": {"name": "report-wells", "params": {"n": 24, "size": 32, "days": 4}},
    "encoder": {"name": "report-well-conv", "params": {"width": 8}},
    "fusion": {"name": "report-delta"},
    "clusterer": {"name": "report-kmeans", "params": {"n_clusters": 3}},
}

BARE = {  # two clusters, no explainers, no quality numbers: every explanation section must become a note
    **CLUSTER,
    "dataset": {"name": "report-wells", "params": {"n": 16, "size": 24, "days": 3}},
    "clusterer": {"name": "report-kmeans", "params": {"n_clusters": 2}},
    "explainers": [],
    "quality": False,
}
