"""A tiny in-memory two-class dataset, a tiny encoder and fusion, and a run-context stand-in
for the classify tests; ``ToyPlugin`` registers them for end-to-end runs through the real pipeline."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from cellxai_core.context import RunContext
from cellxai_core.data import Sample
from cellxai_core.hookspecs import hookimpl
from cellxai_core.model import SampleModel

from cellxai_classify.task import ClassifyTask


class ToyCells:
    """Class 'metastatic' has a bright disc in channel 0, 'normal' a faint one; both noisy."""

    classes = ("normal", "metastatic")

    def __init__(self, n: int = 40, size: int = 16, set_axis: str = "image", seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.set_axis = set_axis
        self.set_size = 3 if set_axis == "channel" else 1
        self.channels = ("stain",) if set_axis == "channel" else ("R", "G", "B")  # names of an image's channels
        self.image_size = (size, size)
        yy, xx = np.mgrid[:size, :size]
        self._images, self._labels = [], []
        for i in range(n):
            label = i % 2
            cy, cx = rng.uniform(size * 0.35, size * 0.65, 2)
            disc = ((yy - cy) ** 2 + (xx - cx) ** 2 < (size / 4) ** 2).astype(np.float32)
            img = rng.uniform(0, 0.2, (3, size, size)).astype(np.float32)
            img[0] += disc * (0.7 if label else 0.25)
            img[2] += disc * 0.4
            img = np.clip(img, 0, 1)
            self._images.append(img[:, None] if set_axis == "channel" else img[None])
            self._labels.append(label)

    def __len__(self) -> int:
        return len(self._images)

    def __getitem__(self, i: int) -> Sample:
        return Sample(
            id=f"cell{i}",
            images=self._images[i],
            channels=self.channels,
            set_axis=self.set_axis,  # type: ignore[arg-type]
            truth={"class": self.classes[self._labels[i]]},
        )


class MemoryWriter:
    """StageWriter stand-in: numpy arrays in a dict, their attrs in ``array_attrs``."""

    def __init__(self, prefix: str = "predictions") -> None:
        self.prefix = prefix
        self.attrs: dict[str, Any] = {}
        self.arrays: dict[str, np.ndarray] = {}
        self.array_attrs: dict[str, dict[str, Any]] = {}

    def create_array(self, path, shape, dtype, chunks=None, attrs=None, fill_value=None):  # noqa: ANN001
        assert path not in self.arrays, f"{path} created twice"
        self.arrays[path] = np.zeros(tuple(shape), dtype=dtype)
        self.array_attrs[path] = dict(attrs or {})
        return self.arrays[path]


@contextlib.contextmanager
def _progress(total: int = 0, description: str = ""):  # noqa: ANN202
    yield SimpleNamespace(advance=lambda n=1: None)


class TinyConv(nn.Module):
    """A small conv encoder (N, C, H, W) -> (N, width), any image size."""

    def __init__(self, in_channels: int, width: int = 8) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.out_dim, self.cam_layer = width, "conv"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean(dim=(2, 3))


class MeanDrop(nn.Module):
    """Mean over the set axis, then dropout (so MC-dropout has something to sample)."""

    def __init__(self, token_dim: int, side_dim: int = 0, set_size: int = 1, dropout: float = 0.2) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.out_dim = token_dim

    def forward(self, tokens: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        return self.drop(tokens.mean(dim=1))


def tiny_model_factory(in_channels: int, dropout: float = 0.2) -> Callable[[], SampleModel]:
    """Encoder + fusion (with dropout) + linear head, as the pipeline would build them."""
    return lambda: SampleModel(TinyConv(in_channels), MeanDrop(8, dropout=dropout), nn.Linear(8, 2))


class ToyBuilder:
    """Builder stand-in: ``new_model`` like :meth:`cellxai_core.build.Builder.new_model`, without seeding
    (the task seeds each fold itself)."""

    def __init__(self, factory: Callable[[], SampleModel]) -> None:
        self.factory = factory

    def new_model(self, dataset: Any, task: Any) -> SampleModel:
        model = self.factory()
        model.transform = task.input_transform()
        return model


def make_ctx(dataset: Any, classify: dict | None = None, mc_samples: int = 0, seed: int = 0, build=None) -> RunContext:  # noqa: ANN001
    """A context whose ``task_impl`` is the classify task; call ``ctx.task_impl.cross_validate(ctx, out)``."""
    spec = {"folds": 3, "epochs": 2, "lr": 0.05, "batch_size": 8, **(classify or {})}
    task = ClassifyTask(classify=spec, uncertainty={"mc_samples": mc_samples})
    in_channels = dataset[0].images.shape[1]
    return RunContext(
        config=SimpleNamespace(task="classify", batch_size=8),  # type: ignore[arg-type]
        dataset=dataset,
        store=None,  # type: ignore[arg-type]
        run_dir=Path("."),
        device="cpu",
        seed=seed,
        progress=_progress,
        builder=ToyBuilder(build or tiny_model_factory(in_channels)),  # type: ignore[arg-type]
        task_impl=task,
    )


class ToyParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(40, ge=2)
    size: int = Field(16, ge=8)
    set_axis: str = "image"
    seed: int = 0


class TinyConvParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(8, ge=1)


class MeanDropParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dropout: float = Field(0.2, ge=0, lt=1)


class ToyPlugin:
    """Registers ``toy-cells``, ``tiny-conv`` and ``mean-drop`` for end-to-end runs through the real pipeline."""

    @hookimpl
    def cellxai_datasets(self, register):  # noqa: ANN001, ANN201
        register("toy-cells", summary="toy two-class cells", params=ToyParams, target="classify_toy:ToyCells")

    @hookimpl
    def cellxai_encoders(self, register):  # noqa: ANN001, ANN201
        register("tiny-conv", summary="one conv layer, mean-pooled", params=TinyConvParams, target="classify_toy:TinyConv")

    @hookimpl
    def cellxai_fusions(self, register):  # noqa: ANN001, ANN201
        register("mean-drop", summary="mean over the set, dropout", params=MeanDropParams, target="classify_toy:MeanDrop")
