"""The linear head: unchanged below its training cap, a stratified subsample above it."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import make_blobs

from cellxai_gradcam.head import stratified_subsample, train_linear_head

CPU = torch.device("cpu")


def _features(n: int) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_blobs(n_samples=n, n_features=6, centers=3, cluster_std=2.0, random_state=4)
    y[:5] = -1  # noise is left out either way
    return X.astype(np.float32), y


def test_below_the_cap_the_head_is_the_full_batch_head():
    X, y = _features(300)
    a, ma = train_linear_head(X, y, device=CPU, seed=0)
    b, mb = train_linear_head(X, y, device=CPU, seed=0, max_train=300)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert ma == mb and ma["n_train"] == ma["n_clustered"] == 295 and ma["n_noise"] == 5


def test_above_the_cap_it_trains_on_a_stratified_subsample():
    X, y = _features(3000)
    full, mf = train_linear_head(X, y, device=CPU, seed=0, max_train=10_000)
    capped, mc = train_linear_head(X, y, device=CPU, seed=0, max_train=300)
    assert mc["n_train"] <= 300 and mc["n_clustered"] == 2995
    assert mc["accuracy"] >= mf["accuracy"] - 0.02  # measured on every clustered sample
    agree = (capped(torch.from_numpy(X)).argmax(1) == full(torch.from_numpy(X)).argmax(1)).float().mean()
    assert agree > 0.97


def test_stratified_subsample_keeps_every_class_and_its_share():
    targets = np.r_[np.zeros(900, int), np.ones(95, int), np.full(5, 2)]
    pick = stratified_subsample(targets, 100, seed=1)
    counts = np.bincount(targets[pick], minlength=3)
    assert counts.tolist() == [90, 9, 1]  # the rarest cluster still has a sample
    assert np.array_equal(pick, np.sort(pick)) and np.array_equal(pick, stratified_subsample(targets, 100, seed=1))


def test_one_cluster_is_not_applicable_not_a_failure():
    import pytest

    from cellxai_core.errors import NotApplicable

    X, _ = _features(50)
    with pytest.raises(NotApplicable, match="1 cluster"):
        train_linear_head(X, np.zeros(50, dtype=np.int64), device=CPU, seed=0)
