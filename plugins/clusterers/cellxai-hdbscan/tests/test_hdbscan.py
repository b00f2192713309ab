"""HDBSCAN keeps noise as -1, gives soft membership and places new points; registration stays cheap."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from pydantic import ValidationError
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

import cellxai_hdbscan.plugin as plugin
from cellxai_core.errors import ConfigError, UserError
from cellxai_core.testing import use_plugins
from cellxai_hdbscan.estimator import HDBSCAN


@pytest.fixture(scope="module")
def blobs_with_outliers() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=300, n_features=10, centers=4, cluster_std=1.0, random_state=4)
    outliers = np.random.default_rng(0).uniform(-40, 40, size=(15, 10))
    return np.vstack([X, outliers]), np.concatenate([y, -np.ones(15, dtype=int)])


def test_finds_clusters_and_keeps_noise_as_minus_one(blobs_with_outliers):
    X, y = blobs_with_outliers
    model = HDBSCAN(min_cluster_size=15).fit(X)
    labels = model.fit_predict(X)
    assert set(np.unique(labels)) == {-1, 0, 1, 2, 3}
    assert (labels[-15:] == -1).mean() >= 0.8  # the scattered points are noise
    assert adjusted_rand_score(y[:300], labels[:300]) > 0.9
    assert np.all(model.probabilities_[labels == -1] == 0)
    np.testing.assert_array_equal(labels[model.cluster_centers_indices_], np.arange(4))
    assert model.embedding_.shape == (315, 2)


def test_soft_membership_and_approximate_predict(blobs_with_outliers):
    X, _ = blobs_with_outliers
    model = HDBSCAN(min_cluster_size=15).fit(X)
    soft = model.membership_vectors()
    assert soft.shape == (315, 4)
    sums = soft.sum(axis=1)
    assert np.all(sums <= 1 + 1e-9) and np.all(soft >= 0)
    assert sums[model.labels_ >= 0].mean() > sums[model.labels_ == -1].mean()  # noise belongs less
    clustered = model.labels_ >= 0
    assert (soft[clustered].argmax(axis=1) == model.labels_[clustered]).mean() > 0.95
    labels, strength = model.approximate_predict(X[:300] + 0.01)
    assert (labels == model.labels_[:300]).mean() > 0.95 and strength.shape == (300,)


def test_tsne_cannot_place_new_points(blobs_with_outliers):
    X, _ = blobs_with_outliers
    model = HDBSCAN(min_cluster_size=10, reduce="tsne", perplexity=10).fit(X[::4])
    with pytest.raises(UserError, match="tsne"):
        model.approximate_predict(X[:5])


def test_bad_params_fail_up_front():
    with pytest.raises(ConfigError, match="^hdbscan: min_cluster_size"):
        HDBSCAN(min_cluster_size=1)


def test_registration_and_cheap_import():
    with use_plugins(plugin) as reg:
        entry = reg.get("clusterer", "hdbscan")
        assert entry.params.model_validate({"min_cluster_size": 8}).reduce == "pca"
        with pytest.raises(ValidationError, match="extra"):
            entry.params.model_validate({"min_cluster": 8})
        assert entry.load() is HDBSCAN
    code = "import sys, cellxai_hdbscan.plugin; print(sorted(m for m in ('torch', 'sklearn', 'hdbscan') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
