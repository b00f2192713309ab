"""The ``template-text`` explainer: a few sentences per cluster, from numbers and a template file.

Writes under ``explanations/template-text``:

- ``text`` (K,) str: the explanation of each cluster;
- ``clusters`` (K,) int64: the cluster id of each text (noise, -1, gets none);
- attrs ``descriptions``: per cluster the structured statements behind the text
  (cell type, measure, word, value, median) and the comparison; ``thresholds``,
  ``sources`` (which store arrays were read), ``levels`` and ``templates``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from .profiles import read_profiles
from .statements import Thresholds, describe_clusters
from .templates import load_templates, render_description


def _object_labels(store: Any) -> dict[str, str]:
    """Display names of the object classes the run measured (root attr ``objects``), if it has them."""
    from cellxai_core import schema

    read = getattr(schema, "objects", None)
    try:
        objects = read(store) if callable(read) else []
    except Exception:  # an older store without the attr
        objects = []
    return {str(o["name"]): str(o.get("label") or o["name"]) for o in objects if isinstance(o, dict) and "name" in o}


class TemplateTextExplainer:
    """Describes each cluster by the density and trend of each cell type (paper §3.4)."""

    requires: ClassVar[Sequence[str]] = ("labels",)
    after: ClassVar[Sequence[str]] = ()
    tasks: ClassVar[Sequence[str]] = ("cluster",)

    def __init__(
        self,
        templates: str | Path | None = None,
        source: str = "auto",
        density_high_quantile: float = 0.67,
        density_low_quantile: float = 0.33,
        trend_threshold: float = 0.1,
        comparisons: int = 1,
        cell_types: Sequence[str] | None = None,
    ) -> None:
        self.templates_path = None if templates is None else str(templates)
        self.templates = load_templates(templates)  # a bad file fails here, before the run
        self.source = source
        self.thresholds = Thresholds(density_low_quantile, density_high_quantile, trend_threshold)
        self.comparisons = comparisons
        self.cell_types = list(cell_types) if cell_types is not None else None

    def explain(self, store: Any, labels: np.ndarray) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
        """Texts, descriptions and provenance for the clusters of ``labels`` (no writing)."""
        profiles = read_profiles(store, self.source, self.cell_types)
        descriptions = describe_clusters(profiles, labels, self.thresholds, self.comparisons)
        labels = _object_labels(store)
        texts = [render_description(self.templates, d, labels) for d in descriptions]
        provenance = {
            "sources": profiles.sources,
            "cell_types": profiles.cell_types,
            "levels": [float(v) for v in profiles.level],
        }
        return texts, descriptions, provenance

    def run(self, ctx: Any, out: Any) -> None:
        texts, descriptions, provenance = self.explain(ctx.store, ctx.labels())
        k = len(texts)
        text = out.create_array("text", (k,), str)
        clusters = out.create_array("clusters", (k,), "int64")
        if k:
            text[:] = np.array(texts, dtype=object)
            clusters[:] = np.array([d["cluster"] for d in descriptions], dtype=np.int64)
        out.attrs["clusters"] = [d["cluster"] for d in descriptions]
        out.attrs["descriptions"] = descriptions
        out.attrs["thresholds"] = {
            "density_low_quantile": self.thresholds.density_low_quantile,
            "density_high_quantile": self.thresholds.density_high_quantile,
            "trend_threshold": self.thresholds.trend_threshold,
        }
        out.attrs["templates"] = self.templates_path or "default"
        out.attrs.update(provenance)
