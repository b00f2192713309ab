"""Registration of the cellxai-text explainers and their report sections. Cheap to import: pydantic params only."""

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


@hookimpl
def cellxai_report_sections(register: Register) -> None:
    """Its results in the report (cluster cards, two sections) and the ``explanation`` column of results.csv."""
    register(
        "template-text",
        summary="Text explanations: how the sentences were made",
        target="cellxai_text.report:render_text",
        tasks=("cluster",),
        order=45,
        cards="cellxai_text.report:card_text",
        columns="cellxai_text.report:explanation_column",
    )
    register(
        "cluster-similarity",
        summary="How different are the clusters?",
        target="cellxai_text.report:render_similarity",
        tasks=("cluster",),
        order=50,
        cards="cellxai_text.report:card_similarity",
    )
