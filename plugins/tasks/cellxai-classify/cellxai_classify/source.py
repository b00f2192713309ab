"""Images and class labels of the dataset, read once (cached) or per batch, preprocessed."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from cellxai_core.data import Dataset, chunks, dataset_classes, load_batch
from cellxai_core.errors import DataError

from .config import ClassifySpec
from .preprocess import preprocess

READ_BATCH = 64


def _class_index(value: Any, classes: list[str], sample_id: str) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if 0 <= int(value) < len(classes):
            return int(value)
    elif str(value) in classes:
        return classes.index(str(value))
    raise DataError(f"sample {sample_id}: truth 'class' is {value!r}, expected one of {classes}")


class ImageSource:
    """Preprocessed images (B, S, C, H, W) by sample index, and every sample's class index.

    With ``spec.cache`` every sample is read and preprocessed once and kept in memory;
    otherwise samples are read from the dataset whenever a batch needs them.
    """

    def __init__(self, dataset: Dataset, spec: ClassifySpec, advance: Callable[[int], None] | None = None) -> None:
        self.dataset, self.spec = dataset, spec
        known = dataset_classes(dataset)
        self.classes: list[str] = list(known) if known else []
        raw_labels: list[Any] = []
        parts: list[torch.Tensor] = []
        n = len(dataset)
        if n == 0:
            raise DataError("classify: the dataset is empty")
        for start, stop in chunks(n, READ_BATCH):
            samples, images = load_batch(dataset, range(start, stop))
            for sample in samples:
                if "class" not in sample.truth:
                    raise DataError(
                        f"sample {sample.id}: no truth 'class'; the classify task needs a dataset with class labels"
                    )
                raw_labels.append((sample.truth["class"], sample.id))
            if spec.cache:
                parts.append(preprocess(torch.from_numpy(images), spec.preprocess))
            if advance is not None:
                advance(stop - start)
        if not self.classes:
            self.classes = sorted({str(v) for v, _ in raw_labels})
        self.labels = np.array([_class_index(v, self.classes, sid) for v, sid in raw_labels], dtype=np.int64)
        self.cached = torch.cat(parts) if parts else None

    def __len__(self) -> int:
        return len(self.labels)

    def get(self, indices: np.ndarray) -> torch.Tensor:
        """Preprocessed images of ``indices`` (CPU float32)."""
        indices = np.asarray(indices, dtype=np.int64)
        if self.cached is not None:
            return self.cached[torch.from_numpy(indices)]
        _, images = load_batch(self.dataset, indices)
        return preprocess(torch.from_numpy(images), self.spec.preprocess)
