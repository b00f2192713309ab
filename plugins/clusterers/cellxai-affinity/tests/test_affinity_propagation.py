"""Affinity Propagation in torch against scikit-learn's, preference bisection, memory refusal, reduction."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from sklearn.cluster import AffinityPropagation as SklearnAP
from sklearn.cluster import affinity_propagation as sklearn_affinity_propagation
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score, euclidean_distances

from cellxai_affinity.affinity import AffinityPropagation
from cellxai_affinity.memory import GIB, estimate_bytes, max_samples
from cellxai_affinity.propagation import propagate
from cellxai_affinity.similarity import median_similarity, place_preference_and_noise
from cellxai_affinity.solver import CPU_BLOCK_ELEMS, affinity_propagation
from cellxai_core.errors import ConfigError, UserError


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    return make_blobs(n_samples=300, n_features=16, centers=6, cluster_std=2.0, random_state=1)


def test_labels_equal_sklearn_on_features(blobs):
    X, _ = blobs
    ours = AffinityPropagation(reduce="none", device="cpu", random_state=0).fit(X)
    ref = SklearnAP(damping=0.9, max_iter=1000, convergence_iter=15, random_state=0).fit(X)
    assert ours.converged_ and ref.n_iter_ < 1000
    assert adjusted_rand_score(ref.labels_, ours.labels_) >= 0.99
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_array_equal(ours.cluster_centers_indices_, ref.cluster_centers_indices_)
    assert ours.n_iter_ == ref.n_iter_


def test_identical_to_sklearn_fed_the_same_similarity_and_noise():
    """Overlapping blobs, damping 0.7: a non-trivial run; same noisy S in, same labels out."""
    X, _ = make_blobs(n_samples=250, n_features=16, centers=8, cluster_std=4.0, random_state=3)
    S = -euclidean_distances(X, squared=True)
    noisy = torch.from_numpy(S.astype(np.float32))
    preference = median_similarity(noisy, symmetric=False)
    place_preference_and_noise(noisy, preference, np.random.RandomState(0), block_rows=64)
    S_in = noisy.numpy().astype(np.float64)
    kw = dict(preference=preference, damping=0.7, max_iter=1000, convergence_iter=15)
    ref_centers, ref_labels, ref_iter = sklearn_affinity_propagation(S_in, random_state=0, return_n_iter=True, **kw)
    ours = affinity_propagation(S_in, tie_noise=False, **kw)
    assert ours.converged and ours.n_iter == ref_iter
    assert len(ref_centers) > 8
    np.testing.assert_array_equal(ours.labels, ref_labels)
    np.testing.assert_array_equal(ours.cluster_centers_indices, ref_centers)


def test_median_preference_matches_numpy(blobs):
    X, _ = blobs
    S = -euclidean_distances(X[:101], squared=True)
    t = torch.from_numpy(S.astype(np.float32))
    for symmetric in (True, False):
        assert median_similarity(t, symmetric=symmetric) == pytest.approx(np.median(S), rel=1e-6)


def test_results_do_not_depend_on_thread_count_or_block_size(blobs):
    X, _ = blobs
    S = -torch.from_numpy(euclidean_distances(X, squared=True).astype(np.float32))
    place_preference_and_noise(S, float(S.median()), np.random.RandomState(0), block_rows=50)
    runs = [
        propagate(S, damping=0.9, max_iter=300, convergence_iter=15, block_rows=b, n_threads=t)
        for b, t in [(30, 1), (30, 2), (300, 1)]
    ]
    for r in runs[1:]:
        assert r.n_iter == runs[0].n_iter
        assert torch.equal(r.exemplar_mask, runs[0].exemplar_mask)


def test_preference_bisection_reaches_the_target(blobs):
    X, _ = blobs
    for target in (3, 10):
        ap = AffinityPropagation(reduce="none", device="cpu", n_clusters=target).fit(X)
        assert len(ap.cluster_centers_indices_) == target == len(np.unique(ap.labels_))
    free = AffinityPropagation(reduce="none", device="cpu").fit(X)
    assert ap.preference_ > free.preference_  # more clusters came from a higher preference


def test_not_converging_is_reported(blobs, caplog):
    X, _ = blobs
    with caplog.at_level(logging.WARNING, logger="cellxai_affinity"):
        ap = AffinityPropagation(reduce="none", device="cpu", damping=0.5, max_iter=5).fit(X)
    assert not ap.converged_ and ap.n_iter_ == 5
    assert "did not converge" in caplog.text


def test_refuses_what_does_not_fit_before_allocating():
    X = np.zeros((50_000, 8))
    with pytest.raises(UserError) as info:
        AffinityPropagation(device="cpu", memory_limit_gb=24, neighbors=0).fit(X)
    message = str(info.value)
    assert "\n" not in message and "50,000 samples" in message and "24.0 GiB" in message
    assert "hdbscan" in message and "kmeans" in message and "neighbors" in message
    # the sizing: dense AP fits about 40,000 samples in 24 GiB
    assert estimate_bytes(40_000, 64, CPU_BLOCK_ELEMS) < 24 * GIB
    assert 40_000 <= max_samples(24 * GIB, 64, CPU_BLOCK_ELEMS) < 50_000


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is missing")
def test_cuda_without_cuda_is_a_user_error(blobs):
    with pytest.raises(UserError, match="CUDA is not available"):
        AffinityPropagation(device="cuda:0").fit(blobs[0])


def test_reduce_options_and_display_embedding(blobs):
    X, y = blobs
    pca = AffinityPropagation(device="cpu", n_components=5).fit(X)
    assert pca.embedding_.shape == (len(X), 2) and pca.embedding_.dtype == np.float32
    from sklearn.decomposition import PCA

    expected = PCA(n_components=2).fit_transform(X)
    np.testing.assert_allclose(np.abs(pca.embedding_), np.abs(expected), rtol=1e-3, atol=1e-3)
    assert adjusted_rand_score(y, pca.labels_) > 0.95
    frac = AffinityPropagation(device="cpu", n_components=0.9).fit(X)
    assert frac.reducer_._pca.n_components_ < 16
    small = X[::5]  # 60 points: t-SNE stays quick
    tsne = AffinityPropagation(device="cpu", reduce="tsne", perplexity=10).fit(small)
    assert tsne.embedding_.shape == (60, 2)
    assert adjusted_rand_score(y[::5], tsne.labels_) > 0.5


def test_bad_params_fail_up_front_with_the_field_named():
    with pytest.raises(ConfigError, match=r"^affinity-propagation: damping: .*less than 1"):
        AffinityPropagation(damping=1.0)
    with pytest.raises(ConfigError, match="device"):
        AffinityPropagation(device="gpu")
    with pytest.raises(ConfigError, match="n_components"):
        AffinityPropagation(reduce="tsne", n_components=5)


def test_all_points_equal_is_handled_like_sklearn():
    X = np.ones((10, 3))
    ours = AffinityPropagation(reduce="none", device="cpu").fit(X)
    ref = SklearnAP(random_state=0).fit(X)
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
