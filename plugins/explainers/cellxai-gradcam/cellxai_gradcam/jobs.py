"""Per-chunk work of the explainers through the run's executor (docs/scale.md, "The per-chunk API").

An explainer prepares on the client, writes what its chunk function needs into a *job*
group (``_partial/<name>.job``: attrs with the params and the store paths of the arrays to
read and write, plus per-sample arrays such as the targets), maps a module-level chunk
function over its chunks with ``ctx.executor.map_chunks`` (in this process, or one Dask task
per chunk whose worker rebuilt the run's context), and finishes on the client. The job is
rewritten by every run, so it holds nothing a resumed run needs; a run's end removes it with
the rest of ``_partial``.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np

from cellxai_core.store import PARTIAL


def job_path(name: str) -> str:
    return f"{PARTIAL}/{name}.job"


def new_job(store: Any, name: str, **attrs: Any) -> None:
    """A fresh, empty job group with ``attrs`` (made JSON by the store)."""
    store.remove(job_path(name))
    store.set_attrs(job_path(name), **attrs)


def job_attrs(store: Any, name: str) -> dict[str, Any]:
    return store.attrs(job_path(name))


def job_array(store: Any, name: str, array: str) -> Any:
    return store.array(f"{job_path(name)}/{array}")


def write_job_array(store: Any, name: str, array: str, value: np.ndarray, rows: int | None = None) -> Any:
    """A job array holding ``value``, chunked by ``rows`` along its first axis (one writer per chunk)."""
    value = np.asarray(value)
    chunks = (max(rows or len(value), 1), *value.shape[1:]) if value.ndim else ()
    arr = store.root.create_array(f"{job_path(name)}/{array}", shape=value.shape, dtype=value.dtype, chunks=chunks,
                                  fill_value=0, overwrite=True)
    if value.size:
        arr[...] = value
    return arr


def require_array(store: Any, path: str, shape: Sequence[int], dtype: str, chunks: Sequence[int]) -> Any:
    """The array at ``path`` when it has this shape (partial work kept for a resume), else a new one of zeros."""
    shape = tuple(int(s) for s in shape)
    if store.has(path) and tuple(store.array(path).shape) == shape:
        return store.array(path)
    store.remove(path)
    return store.root.create_array(path, shape=shape, dtype=dtype, chunks=tuple(chunks), fill_value=0)


def map_chunks(ctx: Any, stage: str, todo: Sequence[int], func: str, rows: int) -> Iterator[int]:
    """``ctx.executor.map_chunks`` (the local executor where the context has none, e.g. ``cellxai explain``)."""
    from cellxai_core.executors import LocalExecutor

    return (ctx.executor or LocalExecutor()).map_chunks(ctx, stage, [int(c) for c in todo], func, rows)


def rebatched(batches: Iterator[tuple[np.ndarray, Any]], size: int) -> Iterator[tuple[np.ndarray, Any]]:
    """The executor's (indices, images) batches regrouped into batches of ``size`` samples (the last may be smaller)."""
    import torch

    idx: list[np.ndarray] = []
    images: list[torch.Tensor] = []
    for i, x in batches:
        idx.append(np.asarray(i))
        images.append(torch.as_tensor(x))
        while sum(len(part) for part in idx) >= size:
            all_idx, all_x = np.concatenate(idx), torch.cat(images)
            yield all_idx[:size], all_x[:size]
            idx, images = [all_idx[size:]], [all_x[size:]]
    if sum(len(part) for part in idx):
        yield np.concatenate(idx), torch.cat(images)


def whole(batches: Iterator[tuple[np.ndarray, Any]]) -> tuple[np.ndarray, Any]:
    """A chunk's batches as one batch: (indices, images tensor)."""
    import torch

    parts = list(batches)
    return np.concatenate([np.asarray(i) for i, _ in parts]), torch.cat([torch.as_tensor(x) for _, x in parts])
