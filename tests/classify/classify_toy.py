"""A tiny in-memory two-class dataset, a model factory and a run-context stand-in for the classify tests."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

import numpy as np

from cellxai_core.classify_config import ClassifySpec, UncertaintySpec
from cellxai_core.context import RunContext
from cellxai_core.data import Sample


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
    """StageWriter stand-in: numpy arrays in a dict."""

    def __init__(self, prefix: str = "predictions") -> None:
        self.prefix = prefix
        self.attrs: dict[str, Any] = {}
        self.arrays: dict[str, np.ndarray] = {}

    def create_array(self, path, shape, dtype, chunks=None, attrs=None, fill_value=None):  # noqa: ANN001
        assert path not in self.arrays, f"{path} created twice"
        self.arrays[path] = np.zeros(tuple(shape), dtype=dtype)
        return self.arrays[path]


@contextlib.contextmanager
def _progress(total: int = 0, description: str = ""):  # noqa: ANN202
    yield SimpleNamespace(advance=lambda n=1: None)


def tiny_model_factory(in_channels: int, dropout: float = 0.2) -> Callable[[], Any]:
    """A small conv encoder + mean fusion (with dropout) + linear head, as the pipeline would build."""
    import torch
    from torch import nn

    from cellxai_core.model import SampleModel

    class Enc(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
            self.out_dim, self.cam_layer = 8, "conv"

        def forward(self, x):  # noqa: ANN001, ANN201
            return self.conv(x).mean(dim=(2, 3))

    class Fuse(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.drop = nn.Dropout(dropout)
            self.out_dim = 8

        def forward(self, tokens, side=None):  # noqa: ANN001, ANN201
            return self.drop(tokens.mean(dim=1))

    return lambda: SampleModel(Enc(), Fuse(), nn.Linear(8, 2))


def make_ctx(dataset: Any, classify: dict | None = None, mc_samples: int = 0, seed: int = 0, build=None) -> RunContext:  # noqa: ANN001
    spec = ClassifySpec(**{"folds": 3, "epochs": 2, "lr": 0.05, "batch_size": 8, **(classify or {})})
    config = SimpleNamespace(task="classify", batch_size=8, classify=spec, uncertainty=UncertaintySpec(mc_samples=mc_samples))
    in_channels = dataset[0].images.shape[1]
    return RunContext(
        config=config,  # type: ignore[arg-type]
        dataset=dataset,
        store=None,  # type: ignore[arg-type]
        run_dir=Path("."),
        device="cpu",
        seed=seed,
        progress=_progress,
        extras={"build_model": build or tiny_model_factory(in_channels)},
    )


def _params_model():  # noqa: ANN202
    from pydantic import BaseModel, ConfigDict, Field

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n: int = Field(40, ge=2)
        size: int = Field(16, ge=8)
        set_axis: str = "image"
        seed: int = 0

    return Params


class ToyPlugin:
    """Registers ``toy-cells`` (the dataset above) for end-to-end runs through the real pipeline."""

    from cellxai_core.hookspecs import hookimpl as _hookimpl

    @_hookimpl
    def cellxai_datasets(self, register):  # noqa: ANN001, ANN201
        register("toy-cells", summary="toy two-class cells", params=_params_model(), target="classify_toy:ToyCells")
