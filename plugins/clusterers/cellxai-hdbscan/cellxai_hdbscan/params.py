"""Params of the ``hdbscan`` clusterer. Only pydantic here: no hdbscan, no scikit-learn."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from cellxai_reduce import ReduceParams


class HDBSCANParams(ReduceParams):
    """HDBSCAN (the ``hdbscan`` package) after the shared reduction step; noise is label -1."""

    model_config = ConfigDict(extra="forbid")

    min_cluster_size: int = Field(5, ge=2, description="smallest group of points that counts as a cluster")
    min_samples: int | None = Field(
        None, ge=1, description="neighbours defining a core point (None: min_cluster_size); higher: more noise"
    )
    cluster_selection_epsilon: float = Field(
        0.0, ge=0, description="clusters closer than this distance are merged"
    )
    cluster_selection_method: Literal["eom", "leaf"] = Field(
        "eom", description="eom (excess of mass: fewer, larger clusters) or leaf (many small homogeneous ones)"
    )
    allow_single_cluster: bool = Field(False, description="allow the result to be one cluster (plus noise)")
    metric: Literal["euclidean", "manhattan", "chebyshev"] = Field("euclidean", description="distance between points")
    random_state: int | None = Field(0, ge=0, description="seed of the reduction step (HDBSCAN itself is deterministic)")
