"""The Zarr v3 run store. A stage writes under ``_partial/<stage>/``, moved to the final paths only when it commits,
so no half-written array looks complete; chunk marks of long stages (``progress/<stage>``) let ``--resume`` continue."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import zarr

PARTIAL = "_partial"


def _jsonable(value: Any) -> Any:
    """Attributes must be JSON: turn numpy scalars / arrays and tuples into plain values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None if np.isnan(value) else (1e308 if value > 0 else -1e308)
    return value


class RunStore:
    """A run's ``store.zarr``: read finished arrays, write stages atomically."""

    def __init__(self, path: str | os.PathLike[str], mode: str = "a") -> None:
        self.path = Path(path)
        self.root = zarr.open_group(str(self.path), mode=mode, zarr_format=3)  # type: ignore[arg-type]

    def has(self, path: str) -> bool:
        return (self.path / path / "zarr.json").exists()

    def array(self, path: str) -> zarr.Array:
        node = self.root[path]
        if not isinstance(node, zarr.Array):
            raise KeyError(f"{path} is a group, not an array")
        return node

    def read(self, path: str) -> np.ndarray:
        """The whole array as numpy; strings come back as an object array of Python ``str``."""
        data = np.asarray(self.array(path)[...])
        if data.dtype.kind in "TUSO":
            from .schema import as_str

            data = as_str(data)
        return data

    def children(self, path: str) -> list[str]:
        """Names of the arrays and groups directly under ``path`` (sorted; none when absent)."""
        folder = self.path / path
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if (p / "zarr.json").exists())

    def attrs(self, path: str = "") -> dict[str, Any]:
        node = self.root if path in ("", "/") else self.root[path]
        return dict(node.attrs)

    def set_attrs(self, path: str = "", **values: Any) -> None:
        node = self.root if path in ("", "/") else self.root.require_group(path)
        node.attrs.update(_jsonable(values))

    def tree(self) -> list[str]:
        """Paths of every finished array, sorted (for listings and tests)."""
        found = (Path(d).relative_to(self.path).as_posix() for d, _, files in os.walk(self.path) if "zarr.json" in files)
        return sorted(p for p in found if p != "." and not p.startswith(PARTIAL) and isinstance(self.root[p], zarr.Array))

    def stage_status(self, stage: str) -> str | None:
        return self.attrs().get("stages", {}).get(stage, {}).get("status")

    def set_stage(self, stage: str, status: str, **info: Any) -> None:
        stages = self.attrs().get("stages", {})
        entry = dict(stages.get(stage, {}))
        entry.update(status=status, **info)
        stages[stage] = entry
        self.set_attrs(stages=stages)

    def writer(self, stage: str, prefix: str = "", *, keep_partial: bool = False, made_by: str | None = None) -> "StageWriter":
        """A writer for one stage; with ``keep_partial`` earlier partial work (of the same ``made_by``) is kept."""
        return StageWriter(self, stage, prefix, keep_partial=keep_partial, made_by=made_by)

    def progress(self, stage: str, n_chunks: int) -> "ChunkProgress":
        return ChunkProgress(self, stage, n_chunks)

    def remove(self, path: str) -> None:
        shutil.rmtree(self.path / path, ignore_errors=True)


def progress_path(stage: str) -> str:
    """Where the chunk marks of a stage live."""
    return f"progress/{stage.replace(':', '.')}"


class StageWriter:
    """Creates arrays under ``_partial/<stage>/<prefix>`` and publishes them on commit."""

    def __init__(
        self, store: RunStore, stage: str, prefix: str = "", *, keep_partial: bool = False, made_by: str | None = None
    ) -> None:
        """``made_by`` names what the partial work depends on (e.g. params): kept work made otherwise is dropped."""
        self.store = store
        self.stage = stage
        self.prefix = prefix.strip("/")
        self.attrs: dict[str, Any] = {}
        self._partial_root = f"{PARTIAL}/{stage.replace(':', '.')}"
        self._progress = progress_path(stage)
        self._arrays: list[str] = []
        stale = made_by is not None and (
            not store.has(self._partial_root) or store.attrs(self._partial_root).get("made_by") != made_by
        )
        if not keep_partial or stale:  # chunk marks never outlive the partial work they describe
            store.remove(self._partial_root)
            store.remove(self._progress)
        if made_by is not None:
            store.set_attrs(self._partial_root, made_by=made_by)

    def _full(self, path: str) -> str:
        return f"{self.prefix}/{path}".strip("/") if self.prefix else path.strip("/")

    def create_array(
        self,
        path: str,
        shape: Sequence[int],
        dtype: Any,
        chunks: Sequence[int] | None = None,
        attrs: dict[str, Any] | None = None,
        fill_value: Any = None,
    ) -> zarr.Array:
        """An array to fill; opened as is when resuming a stage that already created it."""
        full = self._full(path)
        partial = f"{self._partial_root}/{full}"
        shape = tuple(int(s) for s in shape)
        if full not in self._arrays:
            self._arrays.append(full)
        if self.store.has(partial):
            arr = self.store.array(partial)
            if tuple(arr.shape) == shape:
                if attrs:
                    arr.attrs.update(_jsonable(attrs))
                return arr
            self.store.remove(partial)
        if fill_value is None:
            fill_value = "" if dtype is str else 0
        arr = self.store.root.create_array(
            partial,
            shape=shape,
            dtype=dtype,
            chunks=tuple(chunks) if chunks is not None else "auto",
            fill_value=fill_value,
            attributes=_jsonable(attrs or {}),
        )
        return arr

    def write(self, path: str, data: Any, attrs: dict[str, Any] | None = None, chunks: Sequence[int] | None = None) -> None:
        """Create an array holding ``data`` in one go."""
        data = np.asarray(data)
        dtype: Any = str if data.dtype.kind in "USO" else data.dtype
        if dtype is str:
            data = np.array(data.tolist(), dtype=str)
        arr = self.create_array(path, data.shape, dtype, chunks=chunks or (data.shape or None), attrs=attrs)
        if data.size:
            arr[...] = data

    def commit(self) -> None:
        """Publish every array of the stage at its final path, then the attributes. The chunk marks go first: a run killed
        half-way through publishing redoes the stage instead of trusting marks whose arrays have moved."""
        self.store.remove(self._progress)
        for full in self._arrays:
            src = self.store.path / self._partial_root / full
            dst = self.store.path / full
            if dst.exists():
                shutil.rmtree(dst)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            if "/" in full:  # the groups above it, where missing (attrs of existing ones kept)
                self.store.root.require_group(full.rsplit("/", 1)[0])
        if self.attrs:
            self.store.set_attrs(self.prefix, **self.attrs)
        self.store.remove(self._partial_root)


class ChunkProgress:
    """Which chunks of a long stage are done, persisted in ``progress/<stage>``."""

    def __init__(self, store: RunStore, stage: str, n_chunks: int) -> None:
        self.path = progress_path(stage)
        if store.has(self.path) and store.array(self.path).shape == (n_chunks,):
            self.array = store.array(self.path)
        else:
            self.array = store.root.create_array(
                self.path, shape=(n_chunks,), dtype="bool", chunks=(1,), fill_value=False, overwrite=True
            )

    def done(self) -> np.ndarray:
        return np.asarray(self.array[:], dtype=bool)

    def mark(self, chunk: int) -> None:
        self.array[chunk] = True

