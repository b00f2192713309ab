"""Small runs with planted numbers: a real RunStore, a minimal context, the stage writer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest

from cellxai_core.store import RunStore

CELLS = ("cancer", "t_cell", "dead")


@dataclass
class MiniContext:
    """What the explainers use of a RunContext: the store, the task and the labels."""

    store: RunStore
    task: str = "cluster"

    def labels(self) -> np.ndarray:
        return self.store.read("clusters/labels").astype(np.int64)


def write_array(store: RunStore, path: str, data: np.ndarray, **attrs: Any) -> None:
    arr = store.root.create_array(path, shape=data.shape, dtype=data.dtype, attributes=attrs)
    arr[...] = data


def _run_explainer(store: RunStore, name: str, explainer: Any) -> dict[str, Any]:
    """Run ``explainer`` through the real stage writer; returns the committed group attrs."""
    writer = store.writer(f"explain:{name}", f"explanations/{name}")
    explainer.run(MiniContext(store), writer)
    writer.commit()
    return store.attrs(f"explanations/{name}")


@pytest.fixture
def run_explainer() -> Callable[[RunStore, str, Any], dict[str, Any]]:
    return _run_explainer


@pytest.fixture
def blank_store(tmp_path) -> Callable[..., RunStore]:
    """A store holding only the given arrays: blank_store({"path": (data, attrs)})."""

    def build(arrays: dict[str, tuple[np.ndarray, dict[str, Any]]]) -> RunStore:
        store = RunStore(tmp_path / "blank" / "store.zarr", mode="w")
        for path, (data, attrs) in arrays.items():
            write_array(store, path, data, **attrs)
        return store

    return build


def planted_series(slopes: dict[str, float], levels: dict[str, float], n: int, s: int, rng: np.random.Generator,
                   noise: float = 0.002) -> np.ndarray:
    """(n, s, 3) densities: level + slope * (day - centre) + small noise, per cell type."""
    days = np.arange(s) - (s - 1) / 2
    out = np.empty((n, s, len(CELLS)))
    for c, cell in enumerate(CELLS):
        out[:, :, c] = levels[cell] + slopes[cell] * days + rng.normal(0, noise, (n, s))
    return np.clip(out, 0, None)


@pytest.fixture
def make_store(tmp_path) -> Callable[..., RunStore]:
    """Build a store from per-cluster plans: {"slopes": {...}, "levels": {...}, "n": int}."""
    counter = iter(range(1000))

    def build(plans: list[dict[str, Any]], *, s: int = 5, noise_wells: int = 0, seed: int = 0,
              aux: np.ndarray | None = None, aux_trend: np.ndarray | None = None,
              slope_columns: np.ndarray | None = None, slope_name: str = "{cell}_area_slope") -> RunStore:
        rng = np.random.default_rng(seed)
        parts, labels = [], []
        for k, plan in enumerate(plans):
            parts.append(planted_series(plan["slopes"], plan["levels"], plan["n"], s, rng))
            labels += [k] * plan["n"]
        if noise_wells:
            parts.append(rng.uniform(0.0, 0.3, (noise_wells, s, len(CELLS))))
            labels += [-1] * noise_wells
        area = np.concatenate(parts)
        counts = np.round(area * 400)
        names = [f"{c}_area" for c in CELLS] + [f"{c}_count" for c in CELLS] + ["brightness"]
        columns = [area, counts, rng.uniform(0, 1, area.shape[:2] + (1,))]
        if slope_columns is not None:
            names += [slope_name.format(cell=c) for c in CELLS]
            columns.append(np.repeat(slope_columns[:, None, :], s, axis=1))
        store = RunStore(tmp_path / f"run{next(counter)}" / "store.zarr", mode="w")
        write_array(store, "clusters/labels", np.asarray(labels, dtype=np.int32))
        write_array(store, "features/handcrafted", np.concatenate(columns, axis=2).astype(np.float32), names=names)
        write_array(store, "features/fused", rng.normal(size=(len(labels), 8)).astype(np.float32))
        if aux is not None:
            write_array(store, "features/aux/density", aux.astype(np.float32), names=list(CELLS))
        if aux_trend is not None:
            write_array(store, "features/aux/trend", aux_trend.astype(np.float32), names=list(CELLS))
        return store

    return build
