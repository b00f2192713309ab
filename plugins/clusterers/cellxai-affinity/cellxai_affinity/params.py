"""Params of the clusterers of this plugin. Only pydantic here: no torch, no scikit-learn."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from cellxai_reduce import ReduceParams


class AffinityPropagationParams(ReduceParams):
    """Affinity Propagation, named as scikit-learn's ``AffinityPropagation``, plus reduction and device."""

    model_config = ConfigDict(extra="forbid")

    damping: float = Field(0.9, ge=0.5, lt=1.0, description="damping of the message updates, in [0.5, 1)")
    max_iter: int = Field(1000, ge=1, description="maximum number of iterations")
    convergence_iter: int = Field(
        15, ge=1, description="iterations with no change in the exemplars that stop the run"
    )
    preference: float | None = Field(
        None,
        description="preference of every point to be an exemplar; None: the median similarity "
        "(higher: more clusters)",
    )
    n_clusters: int | None = Field(
        None, ge=1, description="target number of clusters, reached by bisection on the preference (None: AP decides)"
    )
    preference_rule: Literal["silhouette", "median"] = Field(
        "silhouette",
        description="how the number of clusters is chosen when neither preference nor n_clusters is set: "
        "silhouette = AP over a sweep of preferences from the median similarity down, keeping the grouping "
        "with the best silhouette (ties: fewer clusters; dense AP only); median = AP's classic default",
    )
    random_state: int | None = Field(0, ge=0, description="seed of the tie-breaking noise (None: numpy's global RNG)")
    device: str = Field(
        "auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto (CUDA when present), cpu, cuda or cuda:N"
    )
    memory_limit_gb: float | None = Field(
        None, gt=0, description="refuse inputs needing more memory than this (None: the device's available memory)"
    )
    neighbors: Literal["auto"] | int | None = Field(
        "auto",
        description="k of the k-nearest-neighbour graph of sparse AP; auto: dense up to 5,000 samples, "
        "sparse with 15 neighbours above; null or 0: always dense",
    )

    @field_validator("neighbors", mode="before")
    @classmethod
    def _neighbors_is_auto_zero_or_k(cls, value: object) -> object:
        """A bool is not a k, and one neighbour leaves AP no choice but the neighbour itself."""
        if isinstance(value, bool) or (isinstance(value, int) and (value < 0 or value == 1)):
            raise ValueError(f"neighbors must be 'auto', null, 0 (dense) or an integer >= 2, got {value!r}")
        return value


class KMeansParams(ReduceParams):
    """scikit-learn's ``KMeans`` after the same reduction step, for comparison."""

    model_config = ConfigDict(extra="forbid")

    n_clusters: int = Field(4, ge=1, description="number of clusters")
    n_init: int = Field(10, ge=1, description="k-means++ restarts; the best inertia is kept")
    max_iter: int = Field(300, ge=1, description="maximum Lloyd iterations per restart")
    random_state: int | None = Field(0, ge=0, description="seed of the initialisation (None: not reproducible)")
