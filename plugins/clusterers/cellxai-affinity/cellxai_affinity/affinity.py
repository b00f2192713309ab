"""``AffinityPropagation``: reduction, then Affinity Propagation in torch float32 on the chosen device."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from cellxai_core.model import resolve_device
from cellxai_reduce import ReducingClusterer

from .memory import check_fits
from .params import AffinityPropagationParams
from .solver import affinity_propagation_features, block_elems_for

SPARSE_ABOVE = 5_000  # neighbors=auto: dense up to here (8 s, ~320 MiB; 29 s, 1.9 GiB at 10,000), sparse above (README)
AUTO_NEIGHBORS = 15  # k of neighbors=auto when it goes sparse


def sparse_neighbors(neighbors: str | int | None, n_samples: int) -> int:
    """k of the kNN graph to use, or 0 for dense AP (``neighbors`` as validated by the Params model)."""
    if neighbors == "auto":
        return AUTO_NEIGHBORS if n_samples > SPARSE_ABOVE else 0
    return int(neighbors or 0)


class AffinityPropagation(ReducingClusterer, ClusterMixin, BaseEstimator):
    """Affinity Propagation (Frey & Dueck 2007) with scikit-learn's parameters and results.

    Similarities are negative squared euclidean distances of the reduced features. The
    number of clusters is AP's own choice, or ``n_clusters`` by bisection on the
    preference. After ``fit``: ``labels_``, ``cluster_centers_indices_`` (exemplars),
    ``n_iter_``, ``converged_``, ``preference_`` and ``embedding_`` (N, 2) for display.
    The N x N similarity matrix is not kept (memory).

        >>> ap = AffinityPropagation(reduce="none", device="cpu").fit(X)
        >>> ap.labels_, ap.cluster_centers_indices_
    """

    name = "affinity-propagation"
    params_model = AffinityPropagationParams

    def __init__(
        self,
        *,
        damping: float = 0.9,
        max_iter: int = 1000,
        convergence_iter: int = 15,
        preference: float | None = None,
        n_clusters: int | None = None,
        preference_rule: str = "silhouette",
        random_state: int | None = 0,
        device: str = "auto",
        memory_limit_gb: float | None = None,
        neighbors: str | int | None = "auto",
        reduce: str = "pca",
        n_components: int | float | None = None,
        scale: bool = False,
        perplexity: float = 30.0,
    ) -> None:
        self.keep_params(locals())

    def fit(self, X: Any, y: Any = None) -> "AffinityPropagation":
        params = self.checked_params()
        device = resolve_device(params.device)
        n, d = np.shape(X) if np.ndim(X) == 2 else (0, 0)
        k = sparse_neighbors(params.neighbors, n)
        if n and not k:
            check_fits(n, d, block_elems_for(device), params.memory_limit_gb, device)
        Z = self.reduce_features(X, params)
        ap = dict(
            preference=params.preference, n_clusters=params.n_clusters, damping=params.damping,
            max_iter=params.max_iter, convergence_iter=params.convergence_iter, random_state=params.random_state,
        )
        self.neighbors_, self.levels_ = k, []
        if k:
            from .hierarchy import sparse_affinity_propagation

            result: Any = sparse_affinity_propagation(Z, neighbors=k, device=device, **ap)
            self.levels_ = result.levels
        else:
            result = affinity_propagation_features(Z, device=device, **ap)
        result = self._select(Z, result, params, ap, device, k)
        self.labels_ = result.labels
        self.cluster_centers_indices_ = result.cluster_centers_indices
        self.n_iter_ = result.n_iter
        self.converged_ = result.converged
        self.preference_ = result.preference
        return self

    def _select(self, Z: Any, result: Any, params: Any, ap: dict, device: Any, k: int) -> Any:
        """The preference sweep of ``preference_rule: silhouette`` (``selection_``: what was tried and why)."""
        from .selection import Selection, sweep

        explicit = params.preference is not None or params.n_clusters is not None
        if params.preference_rule == "median" or explicit:
            rule = "given" if explicit else "median"
            self.selection_ = Selection(rule=rule, note="preference or n_clusters set" if explicit else "").as_dict()
            return result
        if k:
            self.selection_ = Selection(rule="median", note="sparse AP: no preference sweep").as_dict()
            return result

        def fit_at(p: float) -> Any:
            return affinity_propagation_features(Z, device=device, **{**ap, "preference": p})

        chosen, selection = sweep(Z, result.preference, fit_at, result, params.random_state or 0)
        self.selection_ = selection.as_dict()
        return chosen
