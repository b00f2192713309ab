"""The stated choice of the number of clusters (preference_rule: silhouette, issue #13 item 5)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from cellxai_affinity.affinity import AffinityPropagation
from cellxai_affinity.selection import min_similarity

CENTRES = [[0, 0], [12, 0], [0, 12], [12, 12]]


@pytest.fixture(scope="module")
def broad_blobs() -> tuple[np.ndarray, np.ndarray]:
    """Four broad groups of 150: the median preference splits each into about three."""
    return make_blobs(600, n_features=2, centers=CENTRES, cluster_std=2.0, random_state=0)


def test_median_oversplits_and_the_sweep_finds_the_groups(broad_blobs):
    X, y = broad_blobs
    median = AffinityPropagation(device="cpu", reduce="none", preference_rule="median").fit(X)
    chosen = AffinityPropagation(device="cpu", reduce="none").fit(X)
    assert len(set(median.labels_)) >= 8  # the failure the sweep exists for
    assert len(set(chosen.labels_)) == 4
    assert adjusted_rand_score(y, chosen.labels_) >= 0.95


def test_the_selection_records_every_candidate_and_a_margin(broad_blobs):
    X, _ = broad_blobs
    sel = AffinityPropagation(device="cpu", reduce="none").fit(X).selection_
    assert sel["rule"] == "silhouette"
    cands = sel["candidates"]
    assert cands[0]["preference"] > cands[-1]["preference"]  # from the median down
    assert cands[0]["n_clusters"] >= cands[-1]["n_clusters"]
    kept = cands[sel["chosen"]]
    assert kept["min_cluster_silhouette"] >= 0.5 and sel["step"].startswith("every cluster separates")
    assert all(c["min_cluster_silhouette"] < 0.5 for c in cands if c["n_clusters"] > kept["n_clusters"])
    others = [c["silhouette"] for c in cands if c["silhouette"] is not None and c["n_clusters"] != kept["n_clusters"]]
    assert sel["margin"] == pytest.approx(kept["silhouette"] - max(others))
    assert sel["margin"] > 0


def test_groups_that_each_separate_are_not_merged_for_a_higher_overall_silhouette():
    """Five tight groups, two of them close: the overall silhouette is highest with the close pair merged
    (4 clusters), but each of the five separates by itself, so step 1 keeps five."""
    X, y = make_blobs(500, n_features=2, centers=[[0, 0], [30, 0], [0, 30], [30, 30], [4, 0]], cluster_std=0.6,
                      random_state=0)
    fit = AffinityPropagation(device="cpu", reduce="none").fit(X)
    sel = fit.selection_
    assert len(set(fit.labels_)) == 5 and adjusted_rand_score(y, fit.labels_) == 1.0
    four = [c for c in sel["candidates"] if c["n_clusters"] == 4]
    assert four and max(c["silhouette"] for c in four) > sel["candidates"][sel["chosen"]]["silhouette"]
    assert sel["margin"] < 0  # kept although another number of clusters scores higher overall


def test_without_reasonable_clusters_the_best_overall_silhouette_is_kept():
    X, y = make_blobs(400, n_features=2, centers=[[0, 0], [3, 0], [0, 3], [3, 3]], cluster_std=1.0, random_state=1)
    sel = AffinityPropagation(device="cpu", reduce="none").fit(X).selection_
    cands = sel["candidates"]
    assert all(c["min_cluster_silhouette"] is None or c["min_cluster_silhouette"] < 0.5 for c in cands)
    scored = [c["silhouette"] for c in cands if c["silhouette"] is not None]
    assert cands[sel["chosen"]]["silhouette"] >= max(scored) - 0.01
    assert sel["step"].startswith("no candidate")


def test_an_explicit_preference_or_target_skips_the_sweep(broad_blobs):
    X, _ = broad_blobs
    given = AffinityPropagation(device="cpu", reduce="none", preference=-50.0).fit(X)
    assert given.selection_["rule"] == "given" and not given.selection_["candidates"]
    assert given.preference_ == -50.0
    target = AffinityPropagation(device="cpu", reduce="none", n_clusters=3).fit(X)
    assert len(set(target.labels_)) == 3 and target.selection_["rule"] == "given"


def test_one_group_keeps_the_median_with_a_note():
    X = np.random.default_rng(0).normal(size=(60, 3))
    fit = AffinityPropagation(device="cpu", reduce="none").fit(X)
    sel = fit.selection_
    assert len(sel["candidates"]) >= 5
    assert len(set(fit.labels_)) == sel["candidates"][sel["chosen"]]["n_clusters"]


def test_min_similarity_is_minus_the_largest_squared_distance():
    X = np.random.default_rng(1).normal(size=(50, 4))
    d = ((X[:, None] - X[None]) ** 2).sum(-1)
    assert min_similarity(X, block=7) == pytest.approx(-d.max())


def test_ties_within_noise_keep_the_most_clusters():
    from cellxai_affinity.selection import Candidate, _choose

    def sweep(se: float) -> list[Candidate]:
        # the demo's wells at half the planted change: 4 clusters over six preferences, 3 at the lowest only
        fours = [Candidate(-200.0 - 100 * i, 4, 0.369, 0.32, se) for i in range(6)]
        return [Candidate(-50.0, 14, 0.098, -0.03, se), *fours, Candidate(-980.0, 3, 0.383, 0.34, se)]

    noisy = sweep(se=0.0125)  # two standard errors 0.025: 0.383 and 0.369 cannot be told apart; 0.098 can
    chosen, why = _choose(noisy, list(range(len(noisy))))
    assert noisy[chosen].n_clusters == 4 and "most clusters" in why
    precise = sweep(se=0.001)  # the window shrinks to 0.01: the better silhouette wins
    chosen, _ = _choose(precise, list(range(len(precise))))
    assert precise[chosen].n_clusters == 3
