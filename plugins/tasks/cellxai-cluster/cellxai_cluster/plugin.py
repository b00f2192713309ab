"""Registers the ``cluster`` task. No heavy imports here."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cellxai_core.hookspecs import Register, hookimpl


class ClusterTaskParams(BaseModel):
    """Top-level keys of a pipeline file with ``task: cluster`` (besides ``clusterer:``)."""

    model_config = ConfigDict(extra="forbid")

    quality: bool = Field(True, description="store silhouette / Davies-Bouldin / bootstrap stability in the clusters attrs")


@hookimpl
def cellxai_tasks(register: Register) -> None:
    register(
        "cluster",
        summary="Cluster the fused vectors with the pipeline's clusterer: labels, 2-D embedding, exemplars, quality",
        params=ClusterTaskParams,
        target="cellxai_cluster.task:ClusterTask",
        needs=("clusterer",),
    )


@hookimpl
def cellxai_report_sections(register: Register) -> None:
    """How the number of clusters was chosen (the clusterer's recorded selection)."""
    register(
        "cluster-number",
        summary="How many clusters, and how sure",
        target="cellxai_cluster.report:render",
        tasks=("cluster",),
        order=15,
    )
