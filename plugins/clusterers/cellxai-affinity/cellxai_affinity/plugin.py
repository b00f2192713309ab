"""Registration of ``affinity-propagation`` and ``kmeans``. Cheap to import: no torch, no scikit-learn."""

from __future__ import annotations

from cellxai_core.hookspecs import Register, hookimpl

from .params import AffinityPropagationParams, KMeansParams


@hookimpl
def cellxai_clusterers(register: Register) -> None:
    register(
        "affinity-propagation",
        summary="Affinity Propagation (torch float32, CPU/CUDA; sparse kNN mode past 5,000 samples) after PCA / t-SNE; chooses the number of clusters",
        params=AffinityPropagationParams,
        target="cellxai_affinity.affinity:AffinityPropagation",
    )
    register(
        "kmeans",
        summary="scikit-learn k-means after the same PCA / t-SNE reduction, for comparison",
        params=KMeansParams,
        target="cellxai_affinity.kmeans:KMeans",
    )
