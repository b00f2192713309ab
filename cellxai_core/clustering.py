"""The cluster stage: any scikit-learn style clusterer, plus what every clustering stores.

Labels, a 2-D embedding for display, exemplars, the method's own diagnostics, quality
numbers that need no ground truth, and agreement with planted truth when it exists.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from .context import RunContext

if TYPE_CHECKING:  # pragma: no cover
    from .pipeline import Pipeline

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


def cluster_features(pipe: "Pipeline", ctx: RunContext, X: np.ndarray, w: Any) -> None:
    clusterer = pipe.build("clusterer", "clusterer")
    spec = pipe.cfg.clusterer
    with ctx.progress(total=None, description=f"cluster ({spec.name})"):
        labels = np.asarray(clusterer.fit_predict(X), dtype=np.int32)
    if labels.shape != (len(X),):
        raise RuntimeError(f"clusterer '{spec.name}' returned labels of shape {labels.shape} for {len(X)} samples")
    w.write("labels", labels)
    embedding = getattr(clusterer, "embedding_", None)
    if embedding is None or np.shape(embedding) != (len(X), 2):
        embedding = embedding_2d(X, ctx.seed)
    w.write("embedding", np.asarray(embedding, dtype=np.float32))
    centres = getattr(clusterer, "cluster_centers_indices_", None)
    if centres is None or len(np.atleast_1d(centres)) == 0 and (labels >= 0).any():
        centres = exemplars_of(X, labels)
    converged = getattr(clusterer, "converged_", None)
    n_iter = getattr(clusterer, "n_iter_", None)
    w.write(
        "exemplars",
        np.asarray(centres, dtype=np.int64),
        attrs={
            "method": spec.name,
            "params": pipe.params["clusterer"].model_dump(mode="json"),
            "n_iter": None if n_iter is None else int(n_iter),
            "converged": None if converged is None else bool(converged),
        },
    )
    n_clusters = len(set(labels.tolist()) - {-1})
    info: dict[str, Any] = {"n_clusters": n_clusters, "noise_fraction": float((labels == -1).mean())}
    if pipe.cfg.quality:
        info["quality"] = _quality(pipe, X, labels, ctx.seed)
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
    w.attrs.update(info)


def _quality(pipe: "Pipeline", X: np.ndarray, labels: np.ndarray, seed: int) -> dict[str, Any]:
    """Silhouette, Davies–Bouldin and bootstrap stability (cellxai_core.cluster_quality)."""
    try:
        from .cluster_quality import cluster_quality
    except ImportError:  # pragma: no cover - module arrives with the clusterers work
        return {}
    return cluster_quality(X, labels, lambda: pipe.build("clusterer", "clusterer"), random_state=seed)
