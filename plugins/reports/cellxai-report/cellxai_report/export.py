"""Export a run for other tools: AnnData ``.h5ad`` for scanpy users (``cellxai export``).

    obs    one row per sample (index = sample id): Metadata_* columns, cluster or class
           (categorical), planted truth, per-class probabilities, fold, uncertainty, and
           the columns plugins add to results.csv (e.g. the cluster's text ``explanation``)
    X      the fused feature vectors (N, D'), so ``sc.pp.neighbors(adata)`` works as is
    obsm   X_fused (the same), X_embedding (the run's 2-D embedding, for
           ``sc.pl.embedding(adata, "embedding", color="cluster")``), handcrafted
           (N, S*F, names in uns["handcrafted_names"])
    uns    config (the resolved pipeline config as a JSON string: json.loads it back),
           plugins, task, cellxai_version, clusters / predictions summaries,
           cluster_colors (the report's colours, which scanpy uses for obs["cluster"])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cellxai_core import schema
from cellxai_core.errors import UserError

DEFAULT_NAME = "run.h5ad"


def _category(values: list[str]) -> Any:
    import pandas as pd

    return pd.Categorical(values, categories=sorted(set(values), key=_natural))


def _natural(value: str) -> tuple:
    """Sort "cluster 2" before "cluster 10", "noise" last."""
    if value == "noise":
        return (2, 0, value)
    try:
        return (0, int(value), value)
    except ValueError:
        return (1, 0, value)


def _scalars(values: dict[str, Any]) -> dict[str, Any]:
    """Keep what h5ad stores without surprises: numbers, strings and dicts of them (None dropped)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            inner = _scalars(value)
            if inner:
                out[str(key)] = inner
        elif isinstance(value, (bool, int, float, str, np.generic)) and value is not None:
            out[str(key)] = value
    return out


def build_anndata(run_dir: str | Path) -> Any:
    """The run as an :class:`anndata.AnnData` (not written)."""
    import anndata as ad
    import pandas as pd

    from cellxai_core import __version__
    from cellxai_core.api import open_run

    from .contrib import extra_columns
    from .source import ReportSource

    run = open_run(run_dir)  # a complete run only
    src = ReportSource(run.path)
    store = run.store
    obs = pd.DataFrame(index=pd.Index([str(i) for i in run.ids], name="id"))
    for key, values in schema.meta_columns(store).items():
        obs[f"Metadata_{key}"] = values
    for key, values in schema.truth_columns(store).items():
        obs[f"truth_{key}"] = _category([str(v) for v in values])
    uns: dict[str, Any] = {
        "config": json.dumps(run.config, sort_keys=False),
        "plugins": {str(k): str(v) for k, v in (store.attrs().get("plugins") or {}).items()},
        "task": run.task,
        "cellxai_version": __version__,
    }
    if run.task == "cluster":
        _cluster_obs(run_dir, store, obs, uns)
    else:
        _classify_obs(run_dir, store, obs, uns)
    for name, values in extra_columns(src).items():
        if name not in obs:
            obs[name] = pd.Categorical([str(v) for v in values]) if values.dtype.kind in "OUS" else values
    return ad.AnnData(obs=obs, uns=uns, **_matrices(store, uns))


def _cluster_obs(run_dir: str | Path, store: Any, obs: Any, uns: dict[str, Any]) -> None:
    if not store.has(schema.CLUSTER_LABELS):
        raise UserError(f"{run_dir}: no {schema.CLUSTER_LABELS} in the store; nothing to export")
    from .figures import cluster_colours

    labels = store.read(schema.CLUSTER_LABELS)
    obs["cluster"] = _category(["noise" if k < 0 else str(int(k)) for k in labels])
    colours = cluster_colours(sorted(set(labels.tolist())))
    uns["cluster_colors"] = [colours[-1 if c == "noise" else int(c)] for c in obs["cluster"].cat.categories]
    uns["clusters"] = _scalars(store.attrs(schema.CLUSTERS))


def _classify_obs(run_dir: str | Path, store: Any, obs: Any, uns: dict[str, Any]) -> None:
    import pandas as pd

    if not store.has(schema.PROBA):
        raise UserError(f"{run_dir}: no {schema.PROBA} in the store; nothing to export")
    proba = store.read(schema.PROBA)
    attrs = store.attrs(schema.PREDICTIONS)
    classes = schema.classes(store)
    obs["class"] = pd.Categorical([classes[i] for i in proba.argmax(axis=1)], categories=classes)
    for j, name in enumerate(classes):
        obs[f"proba_{name}"] = proba[:, j].astype(np.float32)
    if store.has(schema.FOLD):
        obs["fold"] = store.read(schema.FOLD).astype(np.int32)
    if store.has(f"{schema.UNCERTAINTY}/entropy"):
        obs["mc_entropy"] = store.read(f"{schema.UNCERTAINTY}/entropy").astype(np.float32)
    uns["predictions"] = _scalars({"classes": ", ".join(classes), "folds": attrs.get("folds"), "metrics": attrs.get("metrics") or {}})


def _matrices(store: Any, uns: dict[str, Any]) -> dict[str, Any]:
    """X (the fused vectors), var and obsm of the AnnData."""
    import pandas as pd

    fused = store.read(schema.FUSED).astype(np.float32) if store.has(schema.FUSED) else None
    obsm: dict[str, np.ndarray] = {}
    if fused is not None:
        obsm["X_fused"] = fused
    if store.has(schema.CLUSTER_EMBEDDING):
        obsm["X_embedding"] = store.read(schema.CLUSTER_EMBEDDING).astype(np.float32)
    if store.has(schema.HANDCRAFTED):
        side = store.read(schema.HANDCRAFTED).astype(np.float32)
        names = [str(n) for n in store.attrs(schema.HANDCRAFTED).get("names", [])] or [f"f{j}" for j in range(side.shape[2])]
        obsm["handcrafted"] = side.reshape(len(side), -1)
        uns["handcrafted_names"] = [f"{t + 1}:{n}" for t in range(side.shape[1]) for n in names]
    var = pd.DataFrame(index=[f"fused_{j}" for j in range(fused.shape[1])]) if fused is not None else None
    return {"X": fused, "var": var, "obsm": obsm}


def export_anndata(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the run as ``.h5ad`` (default ``RUN_DIR/run.h5ad``) and return its path."""
    adata = build_anndata(run_dir)
    path = Path(out) if out is not None else Path(run_dir) / DEFAULT_NAME
    if path.suffix != ".h5ad":
        raise UserError(f"--out {path}: expected a file name ending in .h5ad")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.h5ad")
    adata.write_h5ad(tmp)
    tmp.replace(path)
    return path
