"""Cluster quality without ground truth: silhouette, Davies–Bouldin and bootstrap stability.

Users with real data have no planted truth to compare against; these numbers are what
they get instead. Noise points (label -1) are left out of silhouette and Davies–Bouldin
and counted in ``noise_fraction``. A number that cannot be computed (one cluster, all
noise, too few resamples) is NaN and ``reasons[name]`` says why. No torch here.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any, Callable

import numpy as np

from cellxai_core.errors import DataError


def cluster_quality(
    X: Any,
    labels: Any,
    make_clusterer: Callable[[], Any],
    *,
    n_bootstrap: int = 10,
    sample_fraction: float = 0.8,
    max_silhouette_samples: int = 10_000,
    max_stability_samples: int = 5_000,
    random_state: int | None = 0,
) -> dict[str, Any]:
    """Quality numbers of the clustering ``labels`` of features ``X``.

    - ``silhouette`` in [-1, 1] (higher: tighter, better separated clusters), on a random
      subsample of ``max_silhouette_samples`` points when there are more;
    - ``davies_bouldin`` >= 0 (lower is better);
    - ``stability``: mean adjusted Rand index over all pairs of clusterings of
      ``n_bootstrap`` resamples (each ``sample_fraction`` of the points, drawn without
      replacement, clustered by a fresh ``make_clusterer()``), each pair compared on the
      points both resamples contain; 1 = the same partition every time. Above
      ``max_stability_samples`` points the resamples are drawn from one random pool of
      that many, so each refit costs what it costs at that size (dense AP is
      O(n^2), and ten refits of 80,000 points would dwarf the clustering itself);
    - ``n_clusters`` (noise excluded), ``noise_fraction``, ``n_samples``,
      ``silhouette_samples`` and ``stability_samples`` (points used), ``stability_sd``
      and ``reasons``.

    Silhouette is O(n^2) in time (scikit-learn chunks its memory), hence its subsample;
    Davies–Bouldin is O(n k) and uses every point.
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    if X.ndim != 2 or labels.shape != (X.shape[0],):
        raise DataError(f"cluster_quality: expected X (N, D) and labels (N,), got {X.shape} and {labels.shape}")
    if not 0 < sample_fraction <= 1:
        raise DataError(f"cluster_quality: sample_fraction must be in (0, 1], got {sample_fraction}")
    if max_silhouette_samples < 2 or max_stability_samples < 3:
        raise DataError("cluster_quality: max_silhouette_samples must be >= 2 and max_stability_samples >= 3")
    rng = np.random.default_rng(random_state)
    reasons: dict[str, str] = {}
    clustered = labels != -1
    n_clusters = len(np.unique(labels[clustered]))
    out: dict[str, Any] = {
        "n_samples": int(len(labels)),
        "n_clusters": int(n_clusters),
        "noise_fraction": float(1.0 - clustered.mean()) if len(labels) else math.nan,
    }
    out.update(_separation(X[clustered], labels[clustered], max_silhouette_samples, rng, reasons))
    pool = np.arange(len(X))
    if len(X) > max_stability_samples:
        pool = np.sort(rng.choice(len(X), size=max_stability_samples, replace=False))
    out.update(_stability(X[pool], make_clusterer, n_bootstrap, sample_fraction, rng, reasons))
    out["stability_samples"] = int(len(pool))
    out["reasons"] = reasons
    return out


def _separation(
    X: np.ndarray, labels: np.ndarray, max_samples: int, rng: np.random.Generator, reasons: dict[str, str]
) -> dict[str, Any]:
    """Silhouette and Davies–Bouldin of the clustered points (noise removed)."""
    from sklearn.metrics import davies_bouldin_score, silhouette_score

    n, k = len(labels), len(np.unique(labels))
    why = None
    if n == 0:
        why = "all points are noise"
    elif k < 2:
        why = f"{k} cluster: needs at least 2"
    elif k > n - 1:
        why = f"{k} clusters for {n} clustered points: every point is its own cluster"
    if why is not None:
        reasons["silhouette"] = reasons["davies_bouldin"] = why
        return {"silhouette": math.nan, "davies_bouldin": math.nan, "silhouette_samples": 0}
    idx = np.arange(n)
    if n > max_samples:
        idx = np.sort(rng.choice(n, size=max_samples, replace=False))
    if len(np.unique(labels[idx])) < 2:
        reasons["silhouette"] = "the silhouette subsample holds a single cluster"
        silhouette = math.nan
    else:
        silhouette = float(silhouette_score(X[idx], labels[idx]))
    return {
        "silhouette": silhouette,
        "davies_bouldin": float(davies_bouldin_score(X, labels)),
        "silhouette_samples": int(len(idx)),
    }


def _stability(
    X: np.ndarray,
    make_clusterer: Callable[[], Any],
    n_bootstrap: int,
    sample_fraction: float,
    rng: np.random.Generator,
    reasons: dict[str, str],
) -> dict[str, Any]:
    """Mean and sd of the ARI between every pair of resample clusterings, on their shared points."""
    from sklearn.metrics import adjusted_rand_score

    n = len(X)
    size = max(2, int(round(sample_fraction * n)))
    if n_bootstrap < 2 or n < 3:
        reasons["stability"] = f"needs n_bootstrap >= 2 and at least 3 samples (got {n_bootstrap}, {n})"
        return {"stability": math.nan, "stability_sd": math.nan, "n_bootstrap": int(n_bootstrap)}
    runs: list[np.ndarray] = []  # full-length label vectors, -2 where a point was not drawn
    for _ in range(n_bootstrap):
        idx = np.sort(rng.choice(n, size=min(size, n), replace=False))
        full = np.full(n, -2, dtype=np.int64)
        full[idx] = np.asarray(make_clusterer().fit_predict(X[idx]))
        runs.append(full)
    scores = []
    for a, b in combinations(runs, 2):
        shared = (a != -2) & (b != -2)
        if shared.sum() >= 2:
            scores.append(adjusted_rand_score(a[shared], b[shared]))
    if not scores:
        reasons["stability"] = "no two resamples share two points"
        return {"stability": math.nan, "stability_sd": math.nan, "n_bootstrap": int(n_bootstrap)}
    return {
        "stability": float(np.mean(scores)),
        "stability_sd": float(np.std(scores)),
        "n_bootstrap": int(n_bootstrap),
    }
