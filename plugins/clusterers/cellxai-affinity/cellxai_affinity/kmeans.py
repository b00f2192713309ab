"""``KMeans``: scikit-learn's k-means after the shared reduction step, for comparison with AP."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.metrics import pairwise_distances_argmin

from cellxai_reduce import ReducingClusterer

from .params import KMeansParams


class KMeans(ReducingClusterer, ClusterMixin, BaseEstimator):
    """k-means with a preset number of clusters (default 4), deterministic for a given ``random_state``.

    After ``fit``: ``labels_``, ``cluster_centers_`` (in the reduced space),
    ``cluster_centers_indices_`` (the sample nearest each centre, as exemplar),
    ``inertia_``, ``n_iter_``, ``converged_`` and ``embedding_`` (N, 2) for display.
    """

    name = "kmeans"
    params_model = KMeansParams

    def __init__(
        self,
        *,
        n_clusters: int = 4,
        n_init: int = 10,
        max_iter: int = 300,
        random_state: int | None = 0,
        reduce: str = "pca",
        n_components: int | float | None = None,
        scale: bool = False,
        perplexity: float = 30.0,
    ) -> None:
        self.keep_params(locals())

    def fit(self, X: Any, y: Any = None) -> "KMeans":
        params = self.checked_params()
        Z = self.reduce_features(X, params)
        if params.n_clusters > len(Z):
            from cellxai_core.errors import ConfigError

            raise ConfigError(f"kmeans: n_clusters={params.n_clusters} is more than the {len(Z)} samples")
        km = SklearnKMeans(
            n_clusters=params.n_clusters, n_init=params.n_init, max_iter=params.max_iter,
            random_state=params.random_state,
        ).fit(Z)
        self.labels_ = km.labels_.astype(np.int64)
        self.cluster_centers_ = km.cluster_centers_
        self.cluster_centers_indices_ = pairwise_distances_argmin(km.cluster_centers_, Z).astype(np.int64)
        self.inertia_ = float(km.inertia_)
        self.n_iter_ = int(km.n_iter_)
        self.converged_ = bool(km.n_iter_ < params.max_iter)
        return self
