"""Export a run for other tools: AnnData ``.h5ad`` in scverse's conventions (``cellxai export``).

    X      the named measured features (N, F·S): each measurement of ``features/handcrafted``
           on each set position, named as in ``results.csv`` (``cancer_area@day_1``, see
           :mod:`cellxai_report.measures`); var columns ``measurement`` and ``set_position``.
           A run without named measurements falls back to the fused vectors (var names
           ``fused_<j>``); ``uns["X_source"]`` says which, so ``rank_genes_groups`` names
           real measurements whenever the run has them
    obs    one row per sample (index = sample id): ``Metadata_*`` (categorical when text),
           ``Truth_*`` (categorical, the name results.csv uses), ``cluster`` or ``class``
           (categorical), per-class probabilities, fold, uncertainty, and the columns plugins
           add to results.csv (e.g. the cluster's text ``explanation``); every text is a
           plain ``str``, so scikit-learn's metrics take any column
    obsm   X_fused (N, D'), X_embedding (the run's 2-D embedding, for
           ``sc.pl.embedding(adata, "X_embedding", color="cluster")``)
    uns    config (the resolved pipeline config as a JSON string: json.loads it back),
           plugins, task, cellxai_version, X_source, clusters / predictions summaries,
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
        obs[f"Metadata_{key}"] = _category([str(v) for v in values]) if values.dtype.kind in "OUST" else values
    for key, values in schema.truth_columns(store).items():
        obs[f"Truth_{key}"] = _category([str(v) for v in values])
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
    matrices = _matrices(store, uns)
    for name, values in extra_columns(src).items():
        if name not in obs and name not in matrices["var"].index:  # the measured features are X, not obs
            obs[name] = _category([str(v) for v in values]) if values.dtype.kind in "OUST" else values
    return ad.AnnData(obs=obs, uns=uns, **matrices)


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
    """X (the named measurements, else the fused vectors), var and obsm of the AnnData."""
    import pandas as pd

    from .measures import measured

    fused = store.read(schema.FUSED).astype(np.float32) if store.has(schema.FUSED) else None
    obsm: dict[str, np.ndarray] = {}
    if fused is not None:
        obsm["X_fused"] = fused
    if store.has(schema.CLUSTER_EMBEDDING):
        obsm["X_embedding"] = store.read(schema.CLUSTER_EMBEDDING).astype(np.float32)
    found = measured(store)
    if found is not None:
        uns["X_source"] = f"{schema.HANDCRAFTED}: the measured features, one per measurement and set position"
        var = pd.DataFrame({"measurement": found.measurements, "set_position": found.positions}, index=pd.Index(found.names))
        return {"X": found.values, "var": var, "obsm": obsm}
    if fused is None:
        raise UserError(f"{schema.FUSED} and {schema.HANDCRAFTED} are both missing from the store; nothing to export")
    uns["X_source"] = f"{schema.FUSED}: this run has no named measured features ({schema.HANDCRAFTED}), so X is the fused vectors"
    var = pd.DataFrame(index=pd.Index([f"fused_{j}" for j in range(fused.shape[1])]))
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
