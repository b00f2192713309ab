"""``HDBSCAN``: density clustering after the shared reduction step, noise kept as -1."""

from __future__ import annotations

from typing import Any

import hdbscan
import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import NotFittedError

from cellxai_reduce import ReducingClusterer, as_feature_matrix

from .params import HDBSCANParams


class HDBSCAN(ReducingClusterer, ClusterMixin, BaseEstimator):
    """HDBSCAN: finds the number of clusters and leaves points in no dense region as noise (-1).

    After ``fit``: ``labels_``, ``probabilities_`` (strength of each point's membership,
    0 for noise), ``outlier_scores_`` (GLOSH), ``cluster_centers_indices_`` (each cluster's
    most confident member, as exemplar), ``embedding_`` (N, 2) for display and
    ``hdbscan_`` (the fitted ``hdbscan.HDBSCAN``). ``membership_vectors()`` gives the soft
    membership of every point in every cluster; ``approximate_predict(X)`` places new
    points without refitting (not after reduce=tsne, which cannot map new points).
    """

    name = "hdbscan"
    params_model = HDBSCANParams

    def __init__(
        self,
        *,
        min_cluster_size: int = 5,
        min_samples: int | None = None,
        cluster_selection_epsilon: float = 0.0,
        cluster_selection_method: str = "eom",
        allow_single_cluster: bool = False,
        metric: str = "euclidean",
        random_state: int | None = 0,
        reduce: str = "pca",
        n_components: int | float | None = None,
        scale: bool = False,
        perplexity: float = 30.0,
    ) -> None:
        self.keep_params(locals())

    def fit(self, X: Any, y: Any = None) -> "HDBSCAN":
        params = self.checked_params()
        Z = self.reduce_features(X, params)
        model = hdbscan.HDBSCAN(
            min_cluster_size=min(params.min_cluster_size, max(2, len(Z))),
            min_samples=params.min_samples,
            cluster_selection_epsilon=params.cluster_selection_epsilon,
            cluster_selection_method=params.cluster_selection_method,
            allow_single_cluster=params.allow_single_cluster,
            metric=params.metric,
            prediction_data=True,
        ).fit(Z)
        self.hdbscan_ = model
        self.labels_ = model.labels_.astype(np.int64)
        self.probabilities_ = np.asarray(model.probabilities_, dtype=np.float64)
        self.outlier_scores_ = np.asarray(model.outlier_scores_, dtype=np.float64)
        self.cluster_centers_indices_ = self._most_confident_members()
        return self

    def membership_vectors(self) -> np.ndarray:
        """Soft membership (N, K): how much each point belongs to each cluster.

        A row sums to at most 1; the rest is the chance that the point is noise.
        """
        model = self._fitted()
        n_clusters = int(self.labels_.max()) + 1
        if n_clusters == 0:
            return np.zeros((len(self.labels_), 0))
        vectors = np.asarray(hdbscan.all_points_membership_vectors(model), dtype=np.float64)
        return vectors.reshape(len(self.labels_), n_clusters)

    def approximate_predict(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Labels (-1 = noise) and membership strengths of new points, without refitting."""
        model = self._fitted()
        Z = self.reducer_.transform(as_feature_matrix(X, self.name))
        labels, strengths = hdbscan.approximate_predict(model, Z)
        return np.asarray(labels, dtype=np.int64), np.asarray(strengths, dtype=np.float64)

    def _fitted(self) -> Any:
        if not hasattr(self, "hdbscan_"):
            raise NotFittedError("hdbscan: call fit(X) first")
        return self.hdbscan_

    def _most_confident_members(self) -> np.ndarray:
        """Per cluster 0..K-1, the member with the highest probability (first on ties)."""
        out = []
        for k in range(int(self.labels_.max()) + 1):
            members = np.flatnonzero(self.labels_ == k)
            out.append(members[np.argmax(self.probabilities_[members])])
        return np.asarray(out, dtype=np.int64)
