"""The text explainers in report.html and results.csv (registered through ``cellxai_report_sections``).

This plugin owns ``explanations/template-text`` and ``explanations/cluster-similarity``,
so it is the one that reads them back: each cluster card of the report gets its sentence
and its within-cluster similarity, results.csv an ``explanation`` column, and the report
two sections. Each function receives the opened run (``.store``, ``.ids``, ``.labels``)
and, for sections, the report's section to fill; nothing here imports the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cellxai_core import schema

TEXT, SIMILARITY = "template-text", "cluster-similarity"
MAX_INTRA = 12


def _name(k: int) -> str:
    return "noise" if k < 0 else f"cluster {k}"


def cluster_texts(run: Any) -> dict[int, str]:
    """Cluster id -> its text; empty when the run has no template-text results."""
    store = run.store
    if not store.has(schema.explanation(TEXT, "text")):
        return {}
    text = store.read(schema.explanation(TEXT, "text"))
    if store.has(schema.explanation(TEXT, "clusters")):
        ids = store.read(schema.explanation(TEXT, "clusters"))
    else:
        ids = store.attrs(schema.explanation(TEXT)).get("clusters", list(range(len(text))))
    return {int(k): str(t) for k, t in zip(np.asarray(ids).tolist(), text.tolist())}


def card_text(run: Any) -> dict[int, dict[str, Any]]:
    """The sentence that opens each cluster's card."""
    return {k: {"text": t} for k, t in cluster_texts(run).items()}


def explanation_column(run: Any) -> dict[str, np.ndarray]:
    """results.csv ``explanation``: the text of each sample's cluster ("" for noise)."""
    texts = cluster_texts(run)
    labels = run.labels
    if not texts or labels is None:
        return {}
    return {"explanation": np.asarray([texts.get(int(k), "") for k in labels], dtype=object)}


def render_text(run: Any, section: Any) -> None:
    """How the sentences in the cluster cards were made, or why there are none."""
    group = schema.explanation(TEXT)
    if not run.store.has(schema.explanation(TEXT, "text")):
        section.note("No text explanations in this run (add the template-text explainer).")
        return
    attrs = run.store.attrs(group)
    section.p("The sentence at the top of each cluster card describes the density and trend of each cell type in the "
              "cluster and what sets it apart from the other clusters, from the numbers below.")
    facts = [("template file", attrs.get("templates", "default")),
             ("cell types", ", ".join(str(c) for c in attrs.get("cell_types") or []))]
    facts += [(key.replace("_", " "), value) for key, value in (attrs.get("thresholds") or {}).items()]
    facts += [(f"source: {key.replace('_', ' ')}", ", ".join(map(str, v)) if isinstance(v, list) else v)
              for key, v in (attrs.get("sources") or {}).items()]
    section.kv(facts)


def card_similarity(run: Any) -> dict[int, dict[str, Any]]:
    """Each card's mean cosine similarity between its members."""
    path = schema.explanation(SIMILARITY, "intra_mean")
    if not run.store.has(path):
        return {}
    ids = run.store.attrs(schema.explanation(SIMILARITY)).get("clusters") or []
    values = run.store.read(path).tolist()
    return {int(k): {"facts": [("mean cosine similarity within", f"{v:.3f}")]}
            for k, v in zip(ids, values) if v is not None and np.isfinite(v)}


def render_similarity(run: Any, section: Any) -> None:
    """Between- and within-cluster cosine similarity: are the clusters distinct and homogeneous?"""
    from . import figures as F

    store = run.store
    inter = store.read(schema.explanation(SIMILARITY, "inter")) if store.has(schema.explanation(SIMILARITY, "inter")) else None
    if inter is None:
        section.note("No cluster-similarity explainer in this run: similarity matrices skipped.")
        return
    attrs = store.attrs(schema.explanation(SIMILARITY))
    ids = [int(k) for k in attrs.get("clusters") or []]
    names = [_name(k) for k in ids]
    section.p(f"Mean similarity between cluster centres {attrs.get('inter_mean', float('nan')):.3f}; mean similarity within clusters "
              f"{attrs.get('intra_mean_overall', float('nan')):.3f}. Clusters are distinct when the first is clearly below the second.", "headline")
    section.figure(F.similarity_matrix(inter, names, "between cluster centres"),
                   "Cosine similarity of the cluster centres (mean fused feature vectors).")
    if store.has(schema.explanation(SIMILARITY, "intra_mean")):
        intra = store.read(schema.explanation(SIMILARITY, "intra_mean"))
        section.figure(F.bars(list(np.nan_to_num(intra.astype(float), nan=0.0)), names, "mean cosine similarity", "within each cluster"),
                       "Mean cosine similarity between the members of each cluster (higher = more homogeneous).")
    for k in ids[:MAX_INTRA]:
        path = schema.explanation(SIMILARITY, f"intra/{k}/similarity")
        m = store.read(path) if store.has(path) else None
        if m is not None and len(m) > 1:
            section.figure(F.similarity_matrix(m, [""] * len(m), f"within {_name(k)} ({len(m)} members)", annotate=False),
                           f"Cosine similarity between the members of {_name(k)}.", dpi=60)
