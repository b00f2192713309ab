"""The cluster task: labels, a 2-D embedding for display, exemplars, the method's own
diagnostics, quality numbers that need no ground truth, and agreement with planted truth.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np

from cellxai_core import schema
from cellxai_core.errors import DataError

log = logging.getLogger("cellxai")


def exemplars_of(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per cluster, the member closest to the cluster mean (for methods without exemplars)."""
    out = []
    for k in sorted(set(labels.tolist()) - {-1}):
        members = np.flatnonzero(labels == k)
        centre = X[members].mean(axis=0)
        out.append(members[np.argmin(((X[members] - centre) ** 2).sum(axis=1))])
    return np.asarray(out, dtype=np.int64)


def embedding_2d(X: np.ndarray, seed: int) -> np.ndarray:
    """A 2-D PCA of the features, for display when the clusterer has no embedding."""
    from sklearn.decomposition import PCA

    if X.shape[1] < 2 or X.shape[0] < 2:
        return np.zeros((X.shape[0], 2), dtype=np.float32)
    return PCA(n_components=2, random_state=seed).fit_transform(X).astype(np.float32)


class ClusterTask:
    """``task: cluster`` (DESIGN §1, method 1): the pipeline's clusterer on ``features/fused``."""

    trains_model: ClassVar[bool] = False
    prefix: ClassVar[str] = schema.CLUSTERS

    def __init__(self, quality: bool = True) -> None:
        self.quality = quality

    def head_size(self, dataset: Any) -> int | None:
        return None

    def run(self, ctx: Any, out: Any) -> None:
        X = ctx.store.read(schema.FUSED)
        spread = float(np.nanmax(X.std(axis=0))) if len(X) > 1 else 0.0
        if not spread > 1e-6 * max(1.0, float(np.nanmax(np.abs(X)))):  # clusters of a constant would be noise
            raise DataError(
                f"features/fused: every sample has the same fused vector (largest std {spread:.2g}); there is nothing to "
                "cluster. Check that the fusion suits the data (one image per sample needs fusion mean-pool, not temporal-attention)"
            )
        clusterer = ctx.builder.component("clusterer")
        name = ctx.config.clusterer.name
        with ctx.progress(total=None, description=f"cluster ({name})"):
            labels = np.asarray(clusterer.fit_predict(X), dtype=np.int32)
        if labels.shape != (len(X),):
            raise RuntimeError(f"clusterer '{name}' returned labels of shape {labels.shape} for {len(X)} samples")
        out.write("labels", labels)
        embedding = getattr(clusterer, "embedding_", None)
        if embedding is None or np.shape(embedding) != (len(X), 2):
            embedding = embedding_2d(X, ctx.seed)
        out.write("embedding", np.asarray(embedding, dtype=np.float32))
        out.write("exemplars", self._exemplars(clusterer, X, labels), attrs=self._method(ctx, clusterer))
        out.attrs.update(self._summary(ctx, X, labels))

    @staticmethod
    def _exemplars(clusterer: Any, X: np.ndarray, labels: np.ndarray) -> np.ndarray:
        centres = getattr(clusterer, "cluster_centers_indices_", None)
        if centres is None or len(np.atleast_1d(centres)) == 0 and (labels >= 0).any():
            centres = exemplars_of(X, labels)
        return np.asarray(centres, dtype=np.int64)

    @staticmethod
    def _method(ctx: Any, clusterer: Any) -> dict[str, Any]:
        converged = getattr(clusterer, "converged_", None)
        n_iter = getattr(clusterer, "n_iter_", None)
        return {
            "method": ctx.config.clusterer.name,
            "params": ctx.builder.params["clusterer"].model_dump(mode="json"),
            "n_iter": None if n_iter is None else int(n_iter),
            "converged": None if converged is None else bool(converged),
            "selection": getattr(clusterer, "selection_", None),  # how the number of clusters was chosen
        }

    def _summary(self, ctx: Any, X: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
        n_clusters = len(set(labels.tolist()) - {-1})
        sizes = np.bincount(labels[labels >= 0]) if n_clusters else np.zeros(0, int)
        info: dict[str, Any] = {"n_clusters": n_clusters, "noise_fraction": float((labels == -1).mean()),
                                "singletons": int((sizes == 1).sum())}
        if n_clusters < 2:
            log.warning("cluster: %d cluster(s) found; explainers that compare clusters have nothing to compare", n_clusters)
        if self.quality:
            from .quality import cluster_quality

            info["quality"] = cluster_quality(X, labels, lambda: ctx.builder.component("clusterer"), random_state=ctx.seed)
        truth = ctx.truth("program")
        if truth is None:
            truth = ctx.truth("class")
        if truth is not None:
            from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

            info["truth_agreement"] = {
                "ari": float(adjusted_rand_score(truth, labels)),
                "nmi": float(normalized_mutual_info_score(truth, labels)),
            }
            log.info("cluster: %d clusters, ARI vs truth %.3f", n_clusters, info["truth_agreement"]["ari"])
        return info

    def columns(self, run: Any) -> dict[str, Any]:
        return {"cluster": run.store.read(schema.CLUSTER_LABELS)}
