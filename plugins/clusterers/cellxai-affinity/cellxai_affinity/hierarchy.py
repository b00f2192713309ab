"""Sparse Affinity Propagation for large N: AP on kNN graphs level by level, then dense AP on the groups.

Why levels: on a k-nearest-neighbour graph a point can only choose an exemplar among
its k neighbours, so one round of sparse AP always ends with many small clusters
(measured on 2,000 points of 8 blobs, k = 10-30: 500-800 exemplars at the median kNN
similarity, 250-375 at its 10th percentile, still ~50-140 at the dense median, which
then barely converges). So each sparse level only compresses: its exemplars lead the
groups of the next level (preference: the median of the level's kNN similarities, the
sparse analogue of the dense default; 100,000 points -> 39,800 -> 14,900 -> 4,580 ->
1,355 groups with k = 15), until at most ``dense_max`` groups remain; then dense AP on
the groups decides the clusters.

Every level after the first is *weighted*, so that it optimises the dense objective:
a group e of w_e points with mean m_e choosing exemplar f costs
sum_i -||x_i - x_f||^2 = -w_e ||m_e - x_f||^2 - (within-group scatter), and AP is
unchanged by adding a constant to a row, so s(e, f) = -w_e (||m_e - x_f||^2 - ||m_e - x_e||^2)
with the preference on the diagonal is dense AP restricted to keeping each group whole.

The preference of the final level is the dense one (the median of all pairwise
similarities of the input, or the user's value; ``n_clusters`` bisects it there) times
the mean group size N / m: a preference per represented point. Unscaled, the weighted
level would reproduce dense AP's objective exactly, and with it dense AP's habit of
splitting clusters as N grows (a cluster's similarity sum grows with N, the preference
does not: measured on 8 well-separated blobs, dense AP with the median preference finds
8 clusters at N = 2,000, 16 at 5,000 and 24 at 10,000). Scaled, sparse AP clusters like
dense AP on m representative points, whatever N (8 clusters at 1,000 - 100,000).
Final labels follow the dense solver's rule on all N points: nearest exemplar, each
exemplar refined to the member nearest its cluster's mean (the member with the largest
summed similarity), nearest again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .knn import knn_graph
from .sparse import build_graph, propagate_sparse

log = logging.getLogger(__name__)
DENSE_MAX = 4_000  # groups of the final dense level: 3 x 4,000^2 float32 = 183 MiB
PAIR_SAMPLE = 1_000_000  # pairs that estimate the median similarity above ~1,400 samples
LEVEL_TOLERANCE = 1e-3  # a compressing level may stop with this fraction of points still flipping
MIN_SHRINK = 0.9  # a level keeping more than this fraction of its points ends the sparse levels
MAX_LEVELS = 20
BLOCK_ELEMS = 1 << 22


@dataclass
class Groups:
    """The points of one level: each is a group of original points led by an exemplar."""

    points: np.ndarray  # (m, d) the exemplars' coordinates
    means: np.ndarray  # (m, d) mean of each group's original points
    weights: np.ndarray  # (m,) number of original points in each group
    ids: np.ndarray  # (m,) original index of each group's exemplar
    owner: np.ndarray  # (n,) group of each original point

    @classmethod
    def singletons(cls, X: np.ndarray) -> "Groups":
        n = len(X)
        return cls(X, X, np.ones(n), np.arange(n), np.arange(n))


@dataclass
class SparseAPResult:
    """What :func:`sparse_affinity_propagation` returns: the dense result's fields plus each level's numbers."""

    cluster_centers_indices: np.ndarray
    labels: np.ndarray
    n_iter: int
    converged: bool
    preference: float
    levels: list[dict[str, Any]] = field(default_factory=list)


def sparse_affinity_propagation(
    X: np.ndarray,
    *,
    neighbors: int,
    preference: float | None,
    n_clusters: int | None,
    damping: float,
    max_iter: int,
    convergence_iter: int,
    random_state: Any,
    device: torch.device,
    level_quantile: float = 0.5,
    dense_max: int = DENSE_MAX,
) -> SparseAPResult:
    """AP on the rows of ``X`` (N, D) through kNN levels of ``neighbors`` neighbours (see the module docstring).

    ``level_quantile`` sets each sparse level's preference: that quantile of the level's
    kNN similarities (0.5: their median, the sparse analogue of the dense default).
    One ``RandomState`` from ``random_state`` draws every level's tie-breaking noise in
    turn, so a seed gives the same labels run after run.
    """
    from sklearn.utils import check_random_state

    from .memory import check_fits
    from .solver import affinity_propagation, block_elems_for

    X = np.ascontiguousarray(X, dtype=np.float64)
    rng = check_random_state(random_state)
    seed = random_state if isinstance(random_state, int) else 0
    p = float(preference) if preference is not None else median_pair_similarity(X, np.random.default_rng(seed))
    ap = dict(damping=damping, max_iter=max_iter, convergence_iter=convergence_iter)
    groups, levels = Groups.singletons(X), []
    while len(groups.weights) > 2 and len(levels) < MAX_LEVELS and (not levels or len(groups.weights) > dense_max):
        step = sparse_level(groups, min(neighbors, len(groups.weights) - 1), level_quantile, rng, seed, device, **ap)
        if step is None:
            break
        groups, info = step
        levels.append(info)
        log.info("affinity-propagation sparse level %d: %s", len(levels), info)
        if info["exemplars"] > MIN_SHRINK * info["n"]:
            break
    check_fits(len(groups.weights), X.shape[1], block_elems_for(device), None, device)
    S = weighted_dense_similarity(groups)
    scale = float(groups.weights.mean())  # points per group: the preference per represented point
    res = affinity_propagation(S, preference=p * scale, n_clusters=n_clusters, random_state=rng, device=device, **ap)
    levels.append({"n": len(S), "dense": True, "exemplars": len(res.cluster_centers_indices), "n_iter": res.n_iter,
                   "converged": res.converged, "preference": res.preference})
    centres, labels = refine_labels(X, groups.ids[res.cluster_centers_indices])
    return SparseAPResult(
        centres, labels, sum(lv["n_iter"] for lv in levels), all(lv["converged"] for lv in levels), res.preference / scale, levels,
    )


def sparse_level(
    groups: Groups, k: int, quantile: float, rng: np.random.RandomState, seed: int, device: torch.device, **ap: Any,
) -> tuple[Groups, dict[str, Any]] | None:
    """One round of AP on the kNN graph of the groups' exemplars; its exemplars lead the merged groups.

    None when AP found no exemplar (the caller goes on with the groups it has).
    """
    idx = knn_graph(groups.points, k, random_state=seed)
    sim = weighted_edge_similarity(groups, idx)
    pref = float(np.quantile(sim, quantile))
    result = propagate_sparse(build_graph(idx, sim, pref, rng, device), tolerance=LEVEL_TOLERANCE, **ap)
    info = {"n": len(idx), "k": k, "preference": pref, "exemplars": int(result.exemplar_mask.sum()),
            "n_iter": result.n_iter, "converged": result.converged}
    if info["exemplars"] == 0:
        log.warning("affinity-propagation: a sparse level found no exemplar; going on with %d groups", len(idx))
        return None
    return merge(groups, result.exemplar_mask, choose_exemplars(groups, idx, sim, result.exemplar_mask)), info


def weighted_edge_similarity(groups: Groups, idx: np.ndarray) -> np.ndarray:
    """s(e, f) = -w_e (||m_e - x_f||^2 - ||m_e - x_e||^2) on the (m, k) edges; -||x_e - x_f||^2 at level one."""
    m, k = idx.shape
    out = np.empty((m, k), dtype=np.float64)
    self_sq = ((groups.means - groups.points) ** 2).sum(axis=1)
    rows = max(1, BLOCK_ELEMS // (k * groups.points.shape[1]))
    for r0 in range(0, m, rows):
        r1 = min(m, r0 + rows)
        diff = groups.points[idx[r0:r1]] - groups.means[r0:r1, None, :]
        out[r0:r1] = np.einsum("mkd,mkd->mk", diff, diff)
    out -= self_sq[:, None]
    out *= -groups.weights[:, None]
    return out


def weighted_dense_similarity(groups: Groups) -> np.ndarray:
    """The (m, m) float64 similarities of the final dense level (diagonal 0; the solver places the preference)."""
    d = squared_distances(groups.means, groups.points)
    d -= d.diagonal()[:, None].copy()
    d *= -groups.weights[:, None]
    np.fill_diagonal(d, 0.0)
    return d


def choose_exemplars(groups: Groups, idx: np.ndarray, sim: np.ndarray, exemplar_mask: np.ndarray) -> np.ndarray:
    """Index (into the exemplars, in index order) of the group each point joins: itself if an exemplar, else
    its most similar exemplar neighbour, else (no exemplar among its neighbours) the nearest exemplar of all."""
    exemplars = np.flatnonzero(exemplar_mask)
    candidates = np.where(exemplar_mask[idx], sim, -np.inf)
    target = idx[np.arange(len(idx)), candidates.argmax(axis=1)]
    orphans = ~np.isfinite(candidates.max(axis=1)) & ~exemplar_mask
    if orphans.any():
        target[orphans] = exemplars[nearest(groups.means[orphans], groups.points[exemplars])]
    target[exemplar_mask] = exemplars
    return np.searchsorted(exemplars, target)


def merge(groups: Groups, exemplar_mask: np.ndarray, join: np.ndarray) -> Groups:
    """The next level's groups: points joining the same exemplar become one group (weights and means add up)."""
    exemplars = np.flatnonzero(exemplar_mask)
    k = len(exemplars)
    weights = np.bincount(join, weights=groups.weights, minlength=k)
    sums = np.zeros((k, groups.means.shape[1]))
    np.add.at(sums, join, groups.means * groups.weights[:, None])
    return Groups(groups.points[exemplars], sums / weights[:, None], weights, groups.ids[exemplars], join[groups.owner])


def squared_distances(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(len(A), len(B)) float64 squared euclidean distances, |a|^2 + |b|^2 - 2 a.b clipped at 0."""
    d = (A * A).sum(axis=1)[:, None] + (B * B).sum(axis=1)[None, :]
    d -= 2.0 * (A @ B.T)
    return np.maximum(d, 0.0, out=d)


def nearest(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Index of the nearest row of ``B`` for each row of ``A``, in row blocks (memory O(block x len(B)))."""
    out = np.empty(len(A), dtype=np.int64)
    rows = max(1, BLOCK_ELEMS // max(1, len(B)))
    for r0 in range(0, len(A), rows):
        out[r0 : r0 + rows] = squared_distances(A[r0 : r0 + rows], B).argmin(axis=1)
    return out


def refine_labels(X: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The dense solver's labelling on all points: nearest exemplar, exemplar -> member nearest the
    cluster mean (largest summed similarity), nearest again; centres sorted, labels 0..K-1."""
    n = len(X)
    if len(centres) == 0:
        return np.array([], dtype=np.int64), np.full(n, -1, dtype=np.int64)
    labels = nearest(X, X[centres])
    k = len(centres)
    counts = np.bincount(labels, minlength=k)
    sums = np.zeros((k, X.shape[1]))
    np.add.at(sums, labels, X)
    to_mean = ((X - sums[labels] / counts[labels, None]) ** 2).sum(axis=1)
    order = np.lexsort((to_mean, labels))
    firsts = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1]])
    refined = np.unique(order[firsts])
    labels = nearest(X, X[refined])
    return refined, labels


def median_pair_similarity(X: np.ndarray, rng: np.random.Generator) -> float:
    """The dense solver's default preference, the median of all N^2 similarities -||x_i - x_j||^2
    (diagonal zeros included): exact up to ``PAIR_SAMPLE`` pairs, else from that many random pairs."""
    n = len(X)
    if n * (n - 1) // 2 <= PAIR_SAMPLE:
        from scipy.spatial.distance import pdist

        d = pdist(X, "sqeuclidean")
        return float(-np.median(np.concatenate([d, d, np.zeros(n)])))
    i = rng.integers(0, n, PAIR_SAMPLE)
    j = (i + rng.integers(1, n, PAIR_SAMPLE)) % n  # j != i
    return float(-np.median(((X[i] - X[j]) ** 2).sum(axis=1)))
