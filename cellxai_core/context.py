"""What a stage, ``Encoder.pretrain``, ``Fusion.fit``, a task or an explainer gets from the pipeline: the run, its
data, its model (docs/architecture.md, "The run")."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from . import schema
from .data import Dataset, chunks, prefetch_batches
from .progress import Progress

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import BaseModel

    from .build import Builder
    from .config import PipelineConfig
    from .registry import Registry
    from .store import RunStore

WEIGHTS = "model.safetensors"


@dataclass
class RunContext:
    """A run as the components see it: config, data, store, ``builder`` (builds components), ``task_impl``,
    ``executor``; the trained model from :meth:`model`, a fresh one from :meth:`new_model`, kept by :meth:`save_model`."""

    config: "PipelineConfig"
    dataset: Dataset
    store: "RunStore"
    run_dir: Path
    device: str
    seed: int
    progress: Callable[..., Progress] = Progress
    builder: "Builder | None" = None
    task_impl: Any = None
    loaded_model: Any = field(default=None, repr=False)
    executor: Any = field(default=None, repr=False)

    @classmethod
    def open(cls, cfg: "PipelineConfig", params: dict[str, "BaseModel"], out: Path, registry: "Registry") -> "RunContext":
        """A run's context: the builder on the resolved device, the dataset and the task (no store yet)."""
        from .build import Builder

        builder = Builder(cfg, params, registry, "cpu")
        dataset = builder.dataset()  # data the run cannot read fails here, in seconds, before torch is imported
        from .model import resolve_device, resolve_precision
        builder.device = str(resolve_device(cfg.device))
        resolve_precision(cfg.precision, builder.device)  # bf16 on CPU: refused before any stage
        builder.import_targets()
        return cls(config=cfg, dataset=dataset, store=None, run_dir=out, device=builder.device,  # type: ignore[arg-type]
                   seed=cfg.seed, builder=builder, task_impl=builder.task())

    @property
    def task(self) -> str:
        """The task's name (``cluster``, ``classify``)."""
        return str(self.config.task)

    @classmethod
    def standalone(cls, dataset: Dataset, *, device: str = "cpu", seed: int = 0, batch_size: int = 16) -> "RunContext":
        """A context without a run directory or store, enough for ``encoder.pretrain(ctx)`` and ``fusion.fit``."""
        from types import SimpleNamespace

        config = SimpleNamespace(task="cluster", batch_size=batch_size, seed=seed)
        return cls(config=config, dataset=dataset, store=None, run_dir=Path("."), device=device, seed=seed)  # type: ignore[arg-type]

    @property
    def precision(self) -> str:
        """``fp32`` | ``bf16``: the file's ``precision`` on the run's device (:meth:`autocast` applies it)."""
        from .model import resolve_precision

        return resolve_precision(getattr(self.config, "precision", "fp32"), self.device)

    @property
    def loader_workers(self) -> int:
        """Threads that read batches ahead (auto: half the cores, 1 to 4)."""
        value = getattr(self.config, "loader_workers", "auto")
        return min(4, max(1, (os.cpu_count() or 2) // 2)) if value == "auto" else int(value)

    def autocast(self) -> Any:
        import torch

        return torch.autocast("cuda", dtype=torch.bfloat16) if self.precision == "bf16" else contextlib.nullcontext()

    def iter_batches(self, batch_size: int | None = None, indices: Sequence[int] | None = None,
                     convert: Any = None) -> Iterator[tuple[np.ndarray, Any]]:
        """Yield (indices (B,), images (B, S, C, H, W) float32) in order, read ahead (:attr:`loader_workers`)."""
        idx = np.arange(len(self.dataset)) if indices is None else np.asarray(indices)
        size = batch_size or self.config.batch_size
        parts = (idx[start:stop].tolist() for start, stop in chunks(len(idx), size))
        yield from prefetch_batches(self.dataset, parts, self.loader_workers, convert)

    def truth(self, key: str) -> np.ndarray | None:
        """Scalar truth (``program``, ``class``) from the store, or None."""
        return self.store.read(schema.truth(key)) if self.store.has(schema.truth(key)) else None

    def labels(self) -> np.ndarray:
        """The group of each sample: cluster labels (task cluster) or predicted class indices."""
        found = schema.labels(self.store)
        if found is None:
            raise RuntimeError(f"task '{self.task}' has not written its labels")
        return found

    def side_features(self, indices: Sequence[int] | None = None) -> np.ndarray | None:
        """The human-designed features (B, S, F) for ``indices``, or None."""
        if not self.store.has(schema.HANDCRAFTED):
            return None
        arr = self.store.array(schema.HANDCRAFTED)
        return np.asarray(arr[:] if indices is None else arr.get_orthogonal_selection((np.asarray(indices),)))

    def new_model(self) -> Any:
        """A freshly initialised :class:`cellxai_core.model.SampleModel` (with the task's head), on the device, with
        channels-last weights: cuDNN's and oneDNN's fast NHWC convolutions (the demo's U-Net: 1.9x on 2 CPU cores)."""
        if self.builder is None:
            raise RuntimeError("this context has no builder: it cannot make models")
        import torch

        from .model import resolve_device

        model = self.builder.new_model(self.dataset, self.task_impl)
        return model.to(resolve_device(self.device), memory_format=torch.channels_last)

    def model(self) -> Any:
        """The run's model: rebuilt and loaded from ``model.safetensors`` once, on the device, eval mode."""
        if self.loaded_model is None:
            from .model import load_weights

            model = self.new_model()
            load_weights(self.run_dir / WEIGHTS, model)
            self.loaded_model = model.eval()
        return self.loaded_model

    def save_model(self, model: Any) -> None:
        """Keep ``model`` as the run's model: written to ``model.safetensors``; later stages reload it
        from the file, as a resumed run would."""
        from .model import save_weights

        save_weights(self.run_dir / WEIGHTS, model)
        self.loaded_model = None
