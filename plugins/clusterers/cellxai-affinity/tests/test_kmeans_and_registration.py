"""k-means determinism, registration in an isolated registry, and a cheap plugin import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from pydantic import ValidationError
from sklearn.datasets import make_blobs

import cellxai_affinity.plugin as plugin
from cellxai_affinity.kmeans import KMeans
from cellxai_core.testing import use_plugins


def test_kmeans_is_deterministic_and_names_exemplars():
    X, y = make_blobs(n_samples=200, n_features=12, centers=4, random_state=2)
    a = KMeans(random_state=3).fit(X)
    b = KMeans(random_state=3).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert len(np.unique(a.labels_)) == 4 and a.converged_
    np.testing.assert_array_equal(a.labels_[a.cluster_centers_indices_], np.arange(4))
    assert a.embedding_.shape == (200, 2)


def test_registration_and_params_validation():
    with use_plugins(plugin) as reg:
        assert {"affinity-propagation", "kmeans"} <= set(reg.names("clusterer"))
        ap = reg.get("clusterer", "affinity-propagation")
        params = ap.params.model_validate({"reduce": "tsne", "n_clusters": 4})
        assert params.damping == 0.9 and params.max_iter == 1000 and params.preference is None
        with pytest.raises(ValidationError, match="extra"):
            ap.params.model_validate({"dampnig": 0.8})
        with pytest.raises(ValidationError):
            reg.get("clusterer", "kmeans").params.model_validate({"n_clusters": 0})
        model = ap.load()(**params.model_dump())
        assert model.get_params()["n_clusters"] == 4


def test_plugin_import_does_not_load_torch_or_sklearn():
    code = "import sys, cellxai_affinity.plugin; print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
