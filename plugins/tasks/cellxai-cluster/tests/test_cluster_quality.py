"""cluster_quality: separation and bootstrap stability on clean blobs vs random labels, and the NaN cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs

from cellxai_cluster.quality import cluster_quality
from cellxai_core.errors import DataError


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    return make_blobs(n_samples=300, n_features=8, centers=4, cluster_std=1.0, random_state=0)


def kmeans(k: int):
    return lambda: KMeans(n_clusters=k, n_init=3, random_state=0)


def test_true_labels_score_well_random_labels_do_not(blobs):
    X, y = blobs
    good = cluster_quality(X, y, kmeans(4), n_bootstrap=4)
    rand = cluster_quality(X, np.random.default_rng(0).integers(0, 4, len(y)), kmeans(4), n_bootstrap=2)
    assert good["silhouette"] > 0.6
    assert abs(rand["silhouette"]) < 0.1
    assert good["davies_bouldin"] < 0.6 < rand["davies_bouldin"]
    assert good["n_clusters"] == 4 and good["noise_fraction"] == 0.0 and good["reasons"] == {}


def test_stability_high_for_clean_blobs_lower_for_structureless_data(blobs):
    X, y = blobs
    clean = cluster_quality(X, y, kmeans(4), n_bootstrap=5)
    noise = np.random.default_rng(1).normal(size=(300, 8))
    fuzzy = cluster_quality(noise, KMeans(6, n_init=3, random_state=0).fit_predict(noise), kmeans(6), n_bootstrap=5)
    assert clean["stability"] > 0.98
    assert fuzzy["stability"] < 0.8
    assert clean["n_bootstrap"] == 5 and clean["stability_sd"] >= 0


def test_silhouette_is_subsampled_above_the_limit(blobs):
    X, y = blobs
    full = cluster_quality(X, y, kmeans(4), n_bootstrap=2)
    sub = cluster_quality(X, y, kmeans(4), n_bootstrap=2, max_silhouette_samples=120)
    assert full["silhouette_samples"] == 300 and sub["silhouette_samples"] == 120
    assert sub["silhouette"] == pytest.approx(full["silhouette"], abs=0.05)


def test_one_cluster_and_all_noise_give_nan_with_a_reason(blobs):
    X, _ = blobs
    one = cluster_quality(X, np.zeros(len(X)), kmeans(1), n_bootstrap=2)
    assert math.isnan(one["silhouette"]) and math.isnan(one["davies_bouldin"])
    assert "1 cluster" in one["reasons"]["silhouette"]
    assert one["stability"] == pytest.approx(1.0)
    noise = cluster_quality(X, -np.ones(len(X)), kmeans(2), n_bootstrap=1)
    assert noise["noise_fraction"] == 1.0 and noise["n_clusters"] == 0
    assert noise["reasons"]["davies_bouldin"] == "all points are noise"
    assert math.isnan(noise["stability"]) and "n_bootstrap" in noise["reasons"]["stability"]


def test_noise_points_are_left_out_of_separation(blobs):
    X, y = blobs
    labels = y.copy()
    labels[:30] = -1
    q = cluster_quality(X, labels, kmeans(4), n_bootstrap=2)
    assert q["noise_fraction"] == pytest.approx(0.1)
    assert q["silhouette_samples"] == 270 and q["silhouette"] > 0.6


def test_same_random_state_same_numbers(blobs):
    X, y = blobs
    a = cluster_quality(X, y, kmeans(4), n_bootstrap=3, max_silhouette_samples=100, random_state=7)
    b = cluster_quality(X, y, kmeans(4), n_bootstrap=3, max_silhouette_samples=100, random_state=7)
    assert a == b


class _SizeRecorder:
    """A clusterer that records how many points each bootstrap refit saw."""

    sizes: list[int] = []

    def fit_predict(self, X: np.ndarray) -> np.ndarray:
        self.sizes.append(len(X))
        return KMeans(n_clusters=4, n_init=1, random_state=0).fit_predict(X)


def test_stability_refits_are_capped_and_unchanged_below_the_cap(blobs):
    """At 10^5 samples ten refits of 80% would cost more than the clustering; a pool of
    max_stability_samples bounds each refit, and below the cap nothing changes."""
    X, y = blobs
    _SizeRecorder.sizes = []
    capped = cluster_quality(X, y, _SizeRecorder, n_bootstrap=3, max_stability_samples=100)
    assert _SizeRecorder.sizes == [80, 80, 80] and capped["stability_samples"] == 100
    assert capped["stability"] > 0.9
    default = cluster_quality(X, y, kmeans(4), n_bootstrap=3)
    at_cap = cluster_quality(X, y, kmeans(4), n_bootstrap=3, max_stability_samples=300)
    assert default == at_cap and default["stability_samples"] == 300
    with pytest.raises(DataError, match="max_stability_samples"):
        cluster_quality(X, y, kmeans(4), max_stability_samples=2)


def test_constant_fused_vectors_are_refused_before_clustering(tmp_path):
    from types import SimpleNamespace

    import pytest as _pytest

    from cellxai_cluster.task import ClusterTask
    from cellxai_core.errors import DataError
    from cellxai_core.store import RunStore

    store = RunStore(tmp_path / "s.zarr")
    w = store.writer("fuse", "features")
    w.write("fused", np.ones((20, 4), np.float32) + 1e-9 * np.arange(80, dtype=np.float32).reshape(20, 4))
    w.commit()
    ctx = SimpleNamespace(store=store)
    with _pytest.raises(DataError, match="same fused vector"):
        ClusterTask().run(ctx, None)
