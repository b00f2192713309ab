"""What a stage or explainer gets from the pipeline: the run, its data, its model.

A ``RunContext`` is handed to ``Encoder.pretrain``, ``Fusion.fit``, the classify
task and every ``Explainer.run``. Results are written through a ``StageWriter``
so that they become visible in the store only when the stage completes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, Sequence

import numpy as np

from .data import Dataset, chunks, load_batch

if TYPE_CHECKING:  # pragma: no cover
    from .config import PipelineConfig
    from .progress import Progress
    from .store import RunStore

log = logging.getLogger("cellxai")


class StageWriter(Protocol):
    """Writes one stage's (or one explainer's) results under a prefix of the store.

    ``create_array(path, shape, dtype, chunks=None, attrs=None)`` returns a zarr array
    to fill (slices assigned as numpy arrays); ``attrs`` is a dict merged into the
    group attributes of the prefix when the stage commits.
    """

    prefix: str
    attrs: dict[str, Any]

    def create_array(
        self,
        path: str,
        shape: Sequence[int],
        dtype: Any,
        chunks: Sequence[int] | None = None,
        attrs: dict[str, Any] | None = None,
        fill_value: Any = None,
    ) -> Any: ...


@dataclass
class RunContext:
    """The state of a run as the components see it."""

    config: "PipelineConfig"
    dataset: Dataset
    store: "RunStore"
    run_dir: Path
    device: str
    seed: int
    progress: Callable[..., "Progress"]
    model_loader: Callable[[], Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> str:
        return self.config.task

    @property
    def n_samples(self) -> int:
        return len(self.dataset)

    @classmethod
    def standalone(cls, dataset: Dataset, *, device: str = "cpu", seed: int = 0, batch_size: int = 16) -> "RunContext":
        """A context without a run directory, for composing components in plain Python.

        Enough for ``encoder.pretrain(ctx)`` and ``fusion.fit(..., ctx)``; there is no store.
        """
        from types import SimpleNamespace

        from .progress import progress

        config = SimpleNamespace(task="cluster", batch_size=batch_size, seed=seed)
        return cls(config=config, dataset=dataset, store=None, run_dir=Path("."), device=device,  # type: ignore[arg-type]
                   seed=seed, progress=progress)

    def log(self, message: str) -> None:
        log.info(message)

    # -- data ---------------------------------------------------------------------
    def iter_batches(
        self, batch_size: int | None = None, indices: Sequence[int] | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (indices (B,), images (B, S, C, H, W) float32) over the dataset, in order."""
        idx = np.arange(len(self.dataset)) if indices is None else np.asarray(indices)
        size = batch_size or self.config.batch_size
        for start, stop in chunks(len(idx), size):
            part = idx[start:stop]
            _, images = load_batch(self.dataset, part)
            yield part, images

    def truth(self, key: str) -> np.ndarray | None:
        """Scalar truth (``program``, ``class``) from the store, or None."""
        path = f"samples/truth/{key}"
        return self.store.read(path) if self.store.has(path) else None

    # -- results of earlier stages ----------------------------------------------------
    def labels(self) -> np.ndarray:
        """The group of each sample: cluster labels (task cluster) or predicted class indices."""
        if self.task == "cluster":
            return self.store.read("clusters/labels").astype(np.int64)
        return self.store.read("predictions/proba").argmax(axis=1).astype(np.int64)

    def group_names(self) -> list[str]:
        """Display names of the groups returned by :meth:`labels` (cluster ids or class names)."""
        if self.task == "cluster":
            labels = self.labels()
            return [f"cluster {k}" if k >= 0 else "noise" for k in sorted(set(labels.tolist()))]
        return list(self.store.attrs("predictions/proba").get("classes", []))

    def side_features(self, indices: Sequence[int] | None = None) -> np.ndarray | None:
        """The human-designed features (B, S, F) for ``indices``, or None."""
        if not self.store.has("features/handcrafted"):
            return None
        arr = self.store.array("features/handcrafted")
        if indices is None:
            return np.asarray(arr[:])
        return np.asarray(arr.get_orthogonal_selection((np.asarray(indices),)))

    def model(self) -> Any:
        """The trained :class:`cellxai_core.model.SampleModel` (torch), on ``self.device``, eval mode."""
        if self.model_loader is None:
            raise RuntimeError("this run has no model")
        if "model" not in self.extras:
            self.extras["model"] = self.model_loader()
        return self.extras["model"]
