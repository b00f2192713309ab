"""What the report reads: the run's store, and a few samples' images from its dataset.

The images are not in the store; the dataset is rebuilt from the run's resolved config
(the same name and params, so the same samples) and only the samples shown are read.
When the dataset cannot be rebuilt (plugin missing, data moved) the report says so and
shows everything else. A :class:`ReportSource` is an opened :class:`cellxai_core.api.Run`,
so the section renderers of other plugins get the run they know, and nothing more.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cellxai_core import schema
from cellxai_core.api import Run
from cellxai_core.registry import Registry, get_registry


class ReportSource(Run):
    """A run opened for the report: arrays that may or may not exist, images, and the registry.

    Opened with ``allow_incomplete`` so that ``report: true`` and a report of an interrupted
    run work; ``cache`` holds what several sections of one report share.
    """

    def __init__(self, run_dir: str | Path, registry: Registry | None = None) -> None:
        super().__init__(run_dir, allow_incomplete=True)
        self.registry = registry or get_registry()
        self.dataset_error: str | None = None
        self.images_note_shown = False
        self.cache: dict[str, Any] = {}

    # -- store ----------------------------------------------------------------------------
    def has(self, path: str) -> bool:
        return self.store.has(path)

    def read(self, path: str) -> np.ndarray | None:
        return self.store.read(path) if self.store.has(path) else None

    def attrs(self, path: str = "") -> dict[str, Any]:
        try:
            return self.store.attrs(path)
        except KeyError:
            return {}

    def rows(self, path: str, indices: np.ndarray) -> np.ndarray | None:
        """Rows ``indices`` of a large array (Grad-CAM maps) without reading the rest."""
        if not self.store.has(path):
            return None
        arr = self.store.array(path)
        return np.stack([np.asarray(arr[int(i)]) for i in indices]) if len(indices) else None

    @cached_property
    def ids(self) -> np.ndarray:  # type: ignore[override]  # read once: every section uses it
        return schema.ids(self.store)

    @cached_property
    def sample_attrs(self) -> dict[str, Any]:
        return self.attrs(schema.SAMPLES)

    @property
    def set_axis(self) -> str:
        return str(self.sample_attrs.get("set_axis", "image"))

    @property
    def channels(self) -> list[str]:
        return [str(c) for c in self.sample_attrs.get("channels", [])]

    def set_labels(self, s: int) -> list[str]:
        """Names of the set positions: days of a well, channels of a cell, or images."""
        stored = [str(x) for x in self.sample_attrs.get("set_labels") or []]
        if len(stored) == s and not (s == 1 and self.set_axis == "image"):
            return stored
        if self.set_axis == "time":
            return [f"day {t + 1}" for t in range(s)]
        if self.set_axis == "channel" and len(self.channels) == 1 and s == 3:
            return ["R", "G", "B"]
        if self.set_axis == "channel":
            return [f"channel {t + 1}" for t in range(s)]
        return [f"image {t + 1}" for t in range(s)] if s > 1 else [""]

    # -- images -----------------------------------------------------------------------------
    @cached_property
    def dataset(self) -> Any | None:
        spec = self.config.get("dataset") or {}
        try:
            from cellxai_core.build import load_dataset

            ds = load_dataset(spec["name"], registry=self.registry, **(spec.get("params") or {}))
        except Exception as exc:  # noqa: BLE001 - any failure only costs the images
            self.dataset_error = f"dataset '{spec.get('name')}' could not be rebuilt ({type(exc).__name__}: {exc})"
            return None
        if len(ds) != len(self.ids):
            self.dataset_error = f"dataset '{spec.get('name')}' now has {len(ds)} samples, the run had {len(self.ids)}"
            return None
        return ds

    def images(self, index: int) -> np.ndarray | None:
        """Sample ``index``'s images (S, C, H, W) in [0, 1], or None when they cannot be read."""
        ds = self.dataset
        if ds is None:
            return None
        sample = ds[int(index)]
        if str(sample.id) != str(self.ids[int(index)]):
            self.dataset_error = f"sample {index} is now '{sample.id}', the run had '{self.ids[int(index)]}'"
            return None
        return np.asarray(sample.images, dtype=np.float32)

    def images_note(self) -> str:
        return f"Images not shown: {self.dataset_error}." if self.dataset_error else "Images not shown."
