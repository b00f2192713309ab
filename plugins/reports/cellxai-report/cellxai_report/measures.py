"""The measured features of a run under one set of names, for ``results.csv``, AnnData and the report.

``features/handcrafted`` is (N, S, F): F measurements per object class (``cancer_area``,
``t_cell_count_slope`` ...) on each of the S images of a sample. Tables want one column
per number, so each (measurement, set position) pair becomes a column
``<measurement>@<set label>`` with whitespace in the label replaced by ``_``
(``cancer_area@day_1``); with one image per sample (S = 1) the name is the measurement
alone. The names depend only on the encoder's feature names and the dataset's set labels,
never on the values, so they are stable between runs of one pipeline. ``results.csv``
(pycytominer: features next to ``Metadata_*`` columns) and the AnnData's ``var_names``
use exactly these names, so a column found in one is found in the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from cellxai_core import schema

SEPARATOR = "@"
WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Measured:
    """The flattened measurements: ``values`` (N, F·S) float32 with a name, measurement and position per column."""

    names: list[str]
    measurements: list[str]
    positions: list[str]
    values: np.ndarray


def set_labels(sample_attrs: dict[str, Any], s: int) -> list[str]:
    """The stored names of the S set positions (the load stage records them), else 1..S."""
    stored = [str(x) for x in sample_attrs.get("set_labels") or []]
    return stored if len(stored) == s else [str(t + 1) for t in range(s)]


def column_names(measurements: list[str], labels: list[str]) -> list[str]:
    """``measurement@label`` for every label (label-major, as the array is laid out), or the bare names when S = 1."""
    if len(labels) == 1:
        names = list(measurements)
    else:
        names = [f"{m}{SEPARATOR}{WHITESPACE.sub('_', label.strip())}" for label in labels for m in measurements]
    seen: dict[str, int] = {}
    out = []
    for name in names:  # unique even if two set labels only differ in whitespace
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}.{seen[name] - 1}")
    return out


def measured(store: Any) -> Measured | None:
    """The run's named measurements, or None when it has none (no ``features/handcrafted``, or no names)."""
    if not store.has(schema.HANDCRAFTED):
        return None
    arr = store.array(schema.HANDCRAFTED)
    if len(arr.shape) != 3 or arr.shape[2] == 0:
        return None
    n, s, f = (int(x) for x in arr.shape)
    names = [str(x) for x in store.attrs(schema.HANDCRAFTED).get("names") or []]
    if len(names) != f:
        names = [f"feature_{j}" for j in range(f)]
    labels = set_labels(store.attrs(schema.SAMPLES), s)
    values = np.asarray(arr[...], dtype=np.float32).reshape(n, s * f)
    return Measured(
        names=column_names(names, labels),
        measurements=[m for _ in labels for m in names],
        positions=[label for label in labels for _ in names],
        values=values,
    )


def columns(run: Any) -> dict[str, np.ndarray]:
    """``results.csv`` columns: one per measured feature (registered as the ``columns`` option of the ``measurements`` section)."""
    found = measured(run.store)
    if found is None:
        return {}
    return {name: found.values[:, j] for j, name in enumerate(found.names)}


def render(src: Any, sec: Any) -> None:
    """The names under which the measurements appear in ``results.csv`` and ``run.h5ad``, with their spread."""
    found = measured(src.store)
    if found is None:
        return
    pattern = f"<measurement>{SEPARATOR}<set position>" if found.names[0] != found.measurements[0] else "<measurement>"
    sec.p(f"{len(found.names)} measured features per sample: columns of results.csv (after the task's own) and "
          f"X of run.h5ad (var_names), under the same names: {pattern}.")
    rows = []
    for measurement in dict.fromkeys(found.measurements):
        idx = [j for j, m in enumerate(found.measurements) if m == measurement]
        vals = found.values[:, idx]
        rows.append((measurement, ", ".join(found.names[j] for j in idx[:3]) + (" …" if len(idx) > 3 else ""),
                     float(np.median(vals)), float(vals.min()), float(vals.max())))
    sec.table(["measurement", "columns", "median", "min", "max"], rows, left=2)
