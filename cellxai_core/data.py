"""Samples (a *set* of images (S, C, H, W): a microwell's days, a cell's isolated channels, or one image) and the
dataset protocol. Datasets are lazy: ``ds[i]`` reads or generates sample i, so memory does not grow with ``len(ds)``."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Literal, Protocol, Sequence, runtime_checkable

if TYPE_CHECKING:  # numpy is imported lazily: `cellxai --help` must stay fast
    import numpy as np

SetAxis = Literal["time", "channel", "image"]


@dataclass
class Sample:
    """One sample: ``images`` float32 (S, C, H, W) in [0, 1], scalar ``meta`` (plate, well, field ...), planted or
    annotated ``truth``: scalars (``program``, ``class``), per-image arrays (``mask`` (S, H, W) int, ``counts`` (S, 3))."""

    id: str
    images: np.ndarray
    channels: tuple[str, ...]
    set_axis: SetAxis
    meta: dict[str, Any] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import numpy as np

        if self.images.ndim != 4:
            raise ValueError(f"sample {self.id}: images must be (S, C, H, W), got shape {self.images.shape}")
        if self.images.dtype != np.float32:
            self.images = self.images.astype(np.float32)
        if len(self.channels) != self.images.shape[1]:
            raise ValueError(
                f"sample {self.id}: {len(self.channels)} channel names for {self.images.shape[1]} channels"
            )


@runtime_checkable
class Dataset(Protocol):
    """What the pipeline needs from a dataset: these four known without reading every sample (the encoder is built
    for them). The optional ``meta_keys``, ``truth_keys``, ``classes``, ``set_labels``, ``objects`` and
    ``describe(i)``: docs/architecture.md ("What each kind implements")."""

    channels: tuple[str, ...]
    set_axis: SetAxis
    set_size: int
    image_size: tuple[int, int]

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Sample: ...


def meta_keys(ds: Dataset) -> tuple[str, ...]:
    """The metadata columns of a dataset (``ds.meta_keys`` or those of sample 0)."""
    keys = getattr(ds, "meta_keys", None)
    return tuple(keys if keys is not None else ds[0].meta if len(ds) else ())


def set_labels(ds: Dataset) -> tuple[str, ...]:
    """Names of the set positions: ``ds.set_labels`` or 1..S (days / images)."""
    labels = getattr(ds, "set_labels", None)
    if labels:
        return tuple(str(x) for x in labels)
    prefix = {"time": "day ", "channel": "channel ", "image": "image "}.get(ds.set_axis, "")
    return tuple(f"{prefix}{i + 1}" for i in range(ds.set_size))


def truth_keys(ds: Dataset) -> tuple[str, ...]:
    """The truth keys of a dataset (``ds.truth_keys`` or those of sample 0)."""
    keys = getattr(ds, "truth_keys", None)
    return tuple(keys if keys is not None else ds[0].truth if len(ds) else ())


def dataset_classes(ds: Dataset) -> tuple[str, ...] | None:
    """Class names, when the dataset has classes."""
    classes = getattr(ds, "classes", None)
    return tuple(classes) if classes else None


def load_batch(ds: Dataset, indices: Sequence[int]) -> tuple[list[Sample], np.ndarray]:
    """Read samples and stack their images into one (B, S, C, H, W) float32 array."""
    import numpy as np

    samples = [ds[int(i)] for i in indices]
    shapes = {s.images.shape for s in samples}
    if len(shapes) > 1:
        raise ValueError(f"samples in one batch differ in shape: {sorted(shapes)}")
    return samples, np.stack([s.images for s in samples]).astype(np.float32, copy=False)


def prefetch_batches(
    ds: Dataset, batches: Iterable[Sequence[int]], workers: int, convert: Callable[[np.ndarray], Any] | None = None
) -> Iterator[tuple[np.ndarray, Any]]:
    """(indices, images) per batch, in order, read by ``workers`` threads (0: by the caller) ahead of the
    caller's compute; ``convert`` runs in those threads (e.g. pin memory). Threads need no picklable
    dataset, and decoding / rendering (numpy, tifffile, PIL) releases the GIL."""
    import numpy as np
    from concurrent.futures import ThreadPoolExecutor

    def read(idx: Sequence[int]) -> Any:
        images = load_batch(ds, idx)[1]
        return images if convert is None else convert(images)

    todo = iter(batches)
    with ThreadPoolExecutor(max(workers, 1), thread_name_prefix="cellxai-load") as pool:
        ahead = [(idx, pool.submit(read, idx)) for idx in itertools.islice(todo, 2 * workers)]
        for idx in todo if not workers else []:
            yield np.asarray(idx), read(idx)
        while ahead:
            idx, future = ahead.pop(0)
            ahead.extend((nxt, pool.submit(read, nxt)) for nxt in itertools.islice(todo, 1))
            yield np.asarray(idx), future.result()


def chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, stop) pairs that cover range(n) in steps of ``size``."""
    for start in range(0, n, size):
        yield start, min(start + size, n)
