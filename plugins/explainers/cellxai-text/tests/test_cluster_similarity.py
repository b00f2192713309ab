"""cluster-similarity: known vectors give known cosines; matrices are what they claim."""

from __future__ import annotations

import numpy as np
import pytest

from cellxai_core.errors import DataError
from cellxai_text.similarity import ClusterSimilarityExplainer, ClusterSums, cluster_similarity


def known_run():
    """Cluster 0 on the x axis, cluster 1 on the diagonal, cluster 2 two opposite rows, one noise row."""
    x = np.array(
        [
            [1.0, 0.0], [3.0, 0.0],  # cluster 0: centre (2, 0)
            [1.0, 1.0], [2.0, 2.0], [0.0, 5.0],  # cluster 1: centre (1, 8/3)
            [0.0, 1.0], [0.0, -1.0],  # cluster 2: centre (0, 0) -> zero vector
            [-7.0, 3.0],  # noise
        ]
    )
    labels = np.array([0, 0, 1, 1, 1, 2, 2, -1])
    return x, labels


def cos(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_known_vectors_give_known_cosines():
    x, labels = known_run()
    res = cluster_similarity(x, labels)
    assert res["clusters"].tolist() == [0, 1, 2]
    assert res["n_members"].tolist() == [2, 3, 2]
    inter = res["inter"]
    assert inter[0, 1] == pytest.approx(cos([2, 0], [1, 8 / 3]))
    assert inter[0, 2] == 0.0 and inter[1, 2] == 0.0  # zero centre, as sklearn defines it
    # intra means over distinct pairs: cluster 0 identical directions, cluster 2 opposite
    assert res["intra_mean"][0] == pytest.approx(1.0)
    assert res["intra_mean"][2] == pytest.approx(-1.0)
    pairs = [cos([1, 1], [2, 2]), cos([1, 1], [0, 5]), cos([2, 2], [0, 5])]
    assert res["intra_mean"][1] == pytest.approx(np.mean(pairs))
    assert res["inter_mean"] == pytest.approx((inter[0, 1] + inter[0, 2] + inter[1, 2]) / 3)
    assert res["intra_mean_overall"] == pytest.approx(np.mean(res["intra_mean"]))
    members, matrix = res["intra"][1]
    assert members.tolist() == [2, 3, 4]
    assert matrix[0, 2] == pytest.approx(cos([1, 1], [0, 5]))


def test_noise_rows_change_nothing():
    x, labels = known_run()
    a = cluster_similarity(x, labels)
    b = cluster_similarity(x[:-1], labels[:-1])
    np.testing.assert_allclose(a["inter"], b["inter"])
    np.testing.assert_allclose(a["intra_mean"], b["intra_mean"])


def test_streamed_sums_equal_the_brute_force_pair_mean():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(301, 16)) + 0.5
    labels = rng.integers(-1, 4, size=301)
    sums = ClusterSums.accumulate(iter(np.array_split(x, 7)), labels)
    for i, k in enumerate(sums.clusters):
        rows = x[labels == k]
        u = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        full = u @ u.T
        n = len(rows)
        assert sums.intra_means()[i] == pytest.approx((full.sum() - n) / (n * (n - 1)), rel=1e-10)
        np.testing.assert_allclose(sums.centres()[i], rows.mean(axis=0), rtol=1e-12)


def test_one_member_cluster_has_no_intra_mean():
    res = cluster_similarity(np.eye(3), np.array([0, 0, 1]))
    assert np.isnan(res["intra_mean"][1])
    assert res["intra_mean_overall"] == pytest.approx(0.0)  # cluster 0: orthogonal pair


def test_explainer_stores_symmetric_matrices_with_unit_diagonal(blank_store, run_explainer):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 12)) * 3
    labels = np.repeat([0, 1, 2, -1], [250, 40, 1, 9]).astype(np.int32)
    feats = (centres[np.clip(labels, 0, None)] + rng.normal(size=(300, 12))).astype(np.float32)
    store = blank_store({"clusters/labels": (labels, {}), "features/fused": (feats, {})})
    attrs = run_explainer(store, "cluster-similarity", ClusterSimilarityExplainer(max_members=200, random_state=5))
    inter = store.read("explanations/cluster-similarity/inter")
    assert inter.shape == (3, 3) and inter.dtype == np.float32
    np.testing.assert_allclose(inter, inter.T, atol=1e-6)
    np.testing.assert_allclose(np.diag(inter), 1.0, atol=1e-6)
    big = store.read("explanations/cluster-similarity/intra/0/similarity")
    members = store.read("explanations/cluster-similarity/intra/0/members")
    assert big.shape == (200, 200) and len(set(members.tolist())) == 200
    assert set(members.tolist()) <= set(np.flatnonzero(labels == 0).tolist())
    np.testing.assert_allclose(big, big.T, atol=1e-6)
    np.testing.assert_allclose(np.diag(big), 1.0, atol=1e-6)
    assert store.read("explanations/cluster-similarity/intra/1/similarity").shape == (40, 40)
    assert store.read("explanations/cluster-similarity/intra/2/similarity").shape == (1, 1)
    # the stored mean uses every member, not only the sample
    full = feats[labels == 0] / np.linalg.norm(feats[labels == 0], axis=1, keepdims=True)
    expected = ((full @ full.T).sum() - 250) / (250 * 249)
    assert attrs["intra_mean"][0] == pytest.approx(expected, rel=1e-5)
    assert attrs["intra_mean"][2] is None
    assert attrs["n_members"] == [250, 40, 1]
    assert attrs["clusters"] == [0, 1, 2]
    assert attrs["inter_mean"] == pytest.approx((inter.sum() - np.trace(inter)) / 6, rel=1e-5)
    assert attrs["max_members"] == 200 and attrs["random_state"] == 5
    # members of a cluster are more alike than cluster centres are to each other
    assert attrs["intra_mean"][0] > attrs["inter_mean"]


def test_member_sampling_follows_random_state(blank_store, run_explainer):
    rng = np.random.default_rng(1)
    labels = np.zeros(50, dtype=np.int32)
    store = blank_store({"clusters/labels": (labels, {}), "features/fused": (rng.normal(size=(50, 4)).astype(np.float32), {})})

    def members(seed):
        run_explainer(store, "cluster-similarity", ClusterSimilarityExplainer(max_members=10, random_state=seed))
        return store.read("explanations/cluster-similarity/intra/0/members").tolist()

    assert members(1) == members(1)
    assert members(1) != members(2)


def test_features_must_be_one_row_per_sample(blank_store, run_explainer):
    store = blank_store({"clusters/labels": (np.zeros(5, dtype=np.int32), {}),
                         "features/fused": (np.zeros((4, 3), dtype=np.float32), {})})
    with pytest.raises(DataError, match=r"shape \(4, 3\); expected \(5, D\)"):
        run_explainer(store, "cluster-similarity", ClusterSimilarityExplainer())
    with pytest.raises(DataError, match="features/absent"):
        run_explainer(store, "cluster-similarity", ClusterSimilarityExplainer(features="features/absent"))
