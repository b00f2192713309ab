"""Export a run for other tools: AnnData ``.h5ad`` for scanpy users (``cellxai export``).

    obs    one row per sample (index = sample id): Metadata_* columns, cluster or class
           (categorical), the cluster's text explanation, planted truth, per-class
           probabilities, fold, uncertainty
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

from .errors import UserError

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

    from . import __version__
    from .api import open_run

    run = open_run(run_dir)
    store = run.store
    ids = [str(i) for i in run.ids]
    obs = pd.DataFrame(index=pd.Index(ids, name="id"))
    for path in store.tree():
        if path.startswith("samples/meta/"):
            obs[f"Metadata_{path.split('/', 2)[2]}"] = store.read(path)
        elif path.startswith("samples/truth/"):
            obs[f"truth_{path.split('/', 2)[2]}"] = _category([str(v) for v in store.read(path)])
    uns: dict[str, Any] = {
        "config": json.dumps(run.config, sort_keys=False),
        "plugins": {str(k): str(v) for k, v in (store.attrs().get("plugins") or {}).items()},
        "task": run.task,
        "cellxai_version": __version__,
    }
    if run.task == "cluster":
        if not store.has("clusters/labels"):
            raise UserError(f"{run_dir}: no clusters/labels in the store; nothing to export")
        labels = store.read("clusters/labels")
        obs["cluster"] = _category(["noise" if k < 0 else str(int(k)) for k in labels])
        from .report.figures import cluster_colours

        colours = cluster_colours(sorted(set(labels.tolist())))
        uns["cluster_colors"] = [colours[-1 if c == "noise" else int(c)] for c in obs["cluster"].cat.categories]
        uns["clusters"] = _scalars(store.attrs("clusters"))
        if store.has("explanations/template-text/text"):
            texts = dict(zip(store.read("explanations/template-text/clusters").tolist(), store.read("explanations/template-text/text").tolist()))
            obs["explanation"] = pd.Categorical([str(texts.get(int(k), "")) for k in labels])
    else:
        if not store.has("predictions/proba"):
            raise UserError(f"{run_dir}: no predictions/proba in the store; nothing to export")
        proba = store.read("predictions/proba")
        attrs = store.attrs("predictions")
        classes = [str(c) for c in (attrs.get("classes") or range(proba.shape[1]))]
        obs["class"] = pd.Categorical([classes[i] for i in proba.argmax(axis=1)], categories=classes)
        for j, name in enumerate(classes):
            obs[f"proba_{name}"] = proba[:, j].astype(np.float32)
        if store.has("predictions/fold"):
            obs["fold"] = store.read("predictions/fold").astype(np.int32)
        if store.has("predictions/uncertainty/entropy"):
            obs["mc_entropy"] = store.read("predictions/uncertainty/entropy").astype(np.float32)
        uns["predictions"] = _scalars({"classes": ", ".join(classes), "folds": attrs.get("folds"), "metrics": attrs.get("metrics") or {}})
    fused = store.read("features/fused").astype(np.float32) if store.has("features/fused") else None
    obsm: dict[str, np.ndarray] = {}
    if fused is not None:
        obsm["X_fused"] = fused
    if store.has("clusters/embedding"):
        obsm["X_embedding"] = store.read("clusters/embedding").astype(np.float32)
    if store.has("features/handcrafted"):
        side = store.read("features/handcrafted").astype(np.float32)
        names = [str(n) for n in store.attrs("features/handcrafted").get("names", [])] or [f"f{j}" for j in range(side.shape[2])]
        obsm["handcrafted"] = side.reshape(len(side), -1)
        uns["handcrafted_names"] = [f"{t + 1}:{n}" for t in range(side.shape[1]) for n in names]
    var = pd.DataFrame(index=[f"fused_{j}" for j in range(fused.shape[1])]) if fused is not None else None
    return ad.AnnData(X=fused, obs=obs, var=var, obsm=obsm, uns=uns)


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
