"""What a stage or explainer gets from the pipeline: the run, its data, its model.

A ``RunContext`` is handed to ``Encoder.pretrain``, ``Fusion.fit``, the classify
task and every ``Explainer.run``. Results are written through a ``StageWriter``
so that they become visible in the store only when the stage completes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from . import schema
from .data import Dataset, chunks, load_batch

if TYPE_CHECKING:  # pragma: no cover
    from .build import Builder
    from .config import PipelineConfig
    from .progress import Progress
    from .store import RunStore

WEIGHTS = "model.safetensors"


@dataclass
class RunContext:
    """The state of a run as the components see it: config, data, store, and the one model cache.

    ``builder`` (a :class:`cellxai_core.build.Builder`) builds the run's components;
    ``task_impl`` is the run's task object. Stages, tasks and explainers get the trained
    model from :meth:`model`, a fresh one from :meth:`new_model`, and keep one with
    :meth:`save_model`.
    """

    config: "PipelineConfig"
    dataset: Dataset
    store: "RunStore"
    run_dir: Path
    device: str
    seed: int
    progress: Callable[..., "Progress"]
    builder: "Builder | None" = None
    task_impl: Any = None
    loaded_model: Any = field(default=None, repr=False)

    @property
    def task(self) -> str:
        """The task's name (``cluster``, ``classify``)."""
        return str(self.config.task)

    @property
    def weights_path(self) -> Path:
        return self.run_dir / WEIGHTS

    @classmethod
    def standalone(cls, dataset: Dataset, *, device: str = "cpu", seed: int = 0, batch_size: int = 16) -> "RunContext":
        """A context without a run directory or store, enough for ``encoder.pretrain(ctx)`` and ``fusion.fit``."""
        from types import SimpleNamespace

        from .progress import progress

        config = SimpleNamespace(task="cluster", batch_size=batch_size, seed=seed)
        return cls(config=config, dataset=dataset, store=None, run_dir=Path("."), device=device,  # type: ignore[arg-type]
                   seed=seed, progress=progress)

    def iter_batches(self, batch_size: int | None = None, indices: Sequence[int] | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (indices (B,), images (B, S, C, H, W) float32) over the dataset, in order."""
        idx = np.arange(len(self.dataset)) if indices is None else np.asarray(indices)
        size = batch_size or self.config.batch_size
        for start, stop in chunks(len(idx), size):
            part = idx[start:stop]
            _, images = load_batch(self.dataset, part.tolist())
            yield part, images

    def truth(self, key: str) -> np.ndarray | None:
        """Scalar truth (``program``, ``class``) from the store, or None."""
        return self.store.read(schema.truth(key)) if self.store.has(schema.truth(key)) else None

    def labels(self) -> np.ndarray:
        """The group of each sample: cluster labels (task cluster) or predicted class indices."""
        found = schema.labels(self.store)
        if found is None:
            raise RuntimeError(f"task '{self.task}' has not written its labels")
        return found

    def group_names(self) -> list[str]:
        """Display names of the groups returned by :meth:`labels` (cluster ids or class names)."""
        return schema.group_names(self.store)

    def side_features(self, indices: Sequence[int] | None = None) -> np.ndarray | None:
        """The human-designed features (B, S, F) for ``indices``, or None."""
        if not self.store.has(schema.HANDCRAFTED):
            return None
        arr = self.store.array(schema.HANDCRAFTED)
        return np.asarray(arr[:] if indices is None else arr.get_orthogonal_selection((np.asarray(indices),)))

    def new_model(self) -> Any:
        """A freshly initialised :class:`cellxai_core.model.SampleModel` (with the task's head), on the device."""
        if self.builder is None:
            raise RuntimeError("this context has no builder: it cannot make models")
        from .model import resolve_device

        return self.builder.new_model(self.dataset, self.task_impl).to(resolve_device(self.device))

    def model(self) -> Any:
        """The run's model: rebuilt and loaded from ``model.safetensors`` once, on the device, eval mode."""
        if self.loaded_model is None:
            from .model import load_weights

            model = self.new_model()
            load_weights(self.weights_path, model)
            self.loaded_model = model.eval()
        return self.loaded_model

    def save_model(self, model: Any) -> None:
        """Keep ``model`` as the run's model: written to ``model.safetensors``; later stages reload it
        from the file, as a resumed run would."""
        from .model import save_weights

        save_weights(self.weights_path, model)
        self.loaded_model = None
