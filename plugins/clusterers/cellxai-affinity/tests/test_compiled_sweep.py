"""The compiled sweep (numba, the CPU default) against the torch block ops and scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import affinity_propagation as sklearn_affinity_propagation
from sklearn.datasets import make_blobs
from sklearn.metrics import euclidean_distances

from cellxai_affinity.propagation import propagate
from cellxai_affinity.similarity import median_similarity, place_preference_and_noise
from cellxai_affinity.solver import affinity_propagation


def _noisy(X: np.ndarray, seed: int = 0) -> tuple[torch.Tensor, float]:
    S = -torch.from_numpy(euclidean_distances(X, squared=True).astype(np.float32))
    preference = median_similarity(S, symmetric=True)
    place_preference_and_noise(S, preference, np.random.RandomState(seed), block_rows=37)
    return S, preference


@pytest.mark.parametrize("damping,std", [(0.5, 2.0), (0.7, 4.0), (0.9, 1.0)])
def test_compiled_equals_torch_ops_and_sklearn(damping, std):
    X, _ = make_blobs(n_samples=260, n_features=16, centers=7, cluster_std=std, random_state=5)
    S, preference = _noisy(X)
    kw = dict(damping=damping, max_iter=400, convergence_iter=15, block_rows=40)
    fast, ops = propagate(S, compiled=True, **kw), propagate(S, compiled=False, **kw)
    assert fast.converged and fast.n_iter == ops.n_iter and int(fast.exemplar_mask.sum()) > 1
    assert torch.equal(fast.exemplar_mask, ops.exemplar_mask)
    S_in = S.numpy().astype(np.float64)  # the same noisy S for both (scikit-learn's own noise on top is tiny)
    kw = dict(preference=preference, damping=damping, max_iter=400, convergence_iter=15)
    centers, labels, n_iter = sklearn_affinity_propagation(S_in, random_state=0, return_n_iter=True, **kw)
    ours = affinity_propagation(S_in, tie_noise=False, **kw)
    assert ours.converged and ours.n_iter == n_iter
    np.testing.assert_array_equal(ours.labels, labels)
    np.testing.assert_array_equal(ours.cluster_centers_indices, centers)


@pytest.mark.parametrize("row,best,second", [([1, 3, 3, 2], 1, 3), ([1, 3, 2, 2.5], 1, 2.5), ([5, 0, 5, 5], 0, 5)])
def test_responsibilities_of_one_row_as_numpy_argmax(row, best, second):
    """R = S - max of the others' A + S: ties go to the first column (np.argmax), whose runner-up is the tie."""
    from cellxai_affinity.kernel import sweep_rows

    n, w = 4, 0.25
    S = np.zeros((n, n), np.float32)
    S[0] = row
    R, A = np.zeros_like(S), np.zeros_like(S)
    colsum, part = np.zeros(n, np.float32), np.zeros(n)
    diag_r, exemplar = np.zeros(n, np.float32), np.zeros(n, bool)
    sweep_rows(R, A, S, colsum, colsum.copy(), np.arange(1), w, False, True, part, diag_r, exemplar)
    first = max(row)
    expected = w * (np.asarray(row, np.float32) - first)
    expected[best] = w * (row[best] - second)
    np.testing.assert_allclose(R[0], expected, rtol=0, atol=1e-7)
    np.testing.assert_allclose(part, np.maximum(expected, 0), atol=1e-7)
    assert diag_r[0] == R[0, 0]


def test_compiled_results_do_not_depend_on_threads():
    X, _ = make_blobs(n_samples=300, n_features=16, centers=6, cluster_std=2.0, random_state=1)
    S, _ = _noisy(X)
    runs = [propagate(S, damping=0.9, max_iter=300, convergence_iter=15, block_rows=30, n_threads=t, compiled=True)
            for t in (1, 2, 4)]
    for r in runs[1:]:
        assert r.n_iter == runs[0].n_iter and torch.equal(r.exemplar_mask, runs[0].exemplar_mask)
