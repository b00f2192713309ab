"""Registration of the cellxai-text explainers. Cheap to import: pydantic params only."""

from __future__ import annotations

from cellxai_core.hookspecs import Register, hookimpl

from .params import ClusterSimilarityParams, TemplateTextParams


@hookimpl
def cellxai_explainers(register: Register) -> None:
    register(
        "template-text",
        summary="Per-cluster sentences on the density and trend of each cell type and what sets the cluster apart.",
        params=TemplateTextParams,
        target="cellxai_text.text_explainer:TemplateTextExplainer",
    )
    register(
        "cluster-similarity",
        summary="Inter-cluster cosine similarity of the centres and intra-cluster cosine similarity of the members.",
        params=ClusterSimilarityParams,
        target="cellxai_text.similarity:ClusterSimilarityExplainer",
    )
