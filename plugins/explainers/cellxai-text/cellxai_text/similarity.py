"""Cosine similarity within and between clusters (paper §9), on any (N, D) feature matrix.

- inter-cluster: cosine similarity of the cluster centres (member means), (K, K);
- intra-cluster: per cluster, the mean cosine similarity over all pairs of distinct
  members (exact, from running sums, so memory does not grow with the cluster), and
  the full matrix of at most ``max_members`` members, sampled with ``random_state``.

Noise (label -1) belongs to no cluster and is left out. The mean over pairs uses
``sum_{i != j} u_i . u_j = |sum_i u_i|^2 - sum_i |u_i|^2`` for unit rows u_i (zero rows
stay zero, as in :func:`sklearn.metrics.pairwise.cosine_similarity`).

Writes under ``explanations/cluster-similarity``: ``clusters`` (K,) int64, ``inter``
(K, K) float32, ``intra_mean`` (K,) float32 (NaN for one-member clusters), and per
cluster ``intra/<k>/similarity`` (m, m) float32 with ``intra/<k>/members`` (m,) int64
(row indices of the samples); attrs ``inter_mean`` (mean of the off-diagonal entries),
``intra_mean`` (per cluster), ``intra_mean_overall`` (their mean), ``n_members``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Iterator, Sequence

import numpy as np
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.preprocessing import normalize

from cellxai_core.errors import DataError

from .rows import row_blocks


@dataclass
class ClusterSums:
    """Running per-cluster sums over feature rows: enough for centres and intra means."""

    clusters: np.ndarray  # (K,) cluster ids, ascending
    counts: np.ndarray  # (K,)
    sums: np.ndarray  # (K, D) sum of rows
    unit_sums: np.ndarray  # (K, D) sum of L2-normalised rows
    unit_sq: np.ndarray  # (K,) sum of squared norms of the normalised rows (1 per non-zero row)

    @classmethod
    def accumulate(cls, blocks: Iterator[np.ndarray], labels: np.ndarray) -> "ClusterSums":
        labels = np.asarray(labels)
        clusters = np.unique(labels[labels >= 0]).astype(np.int64)
        sums = unit_sums = None
        unit_sq = np.zeros(len(clusters))
        start = 0
        for block in blocks:
            block = np.asarray(block, dtype=np.float64)
            lab = labels[start : start + len(block)]
            start += len(block)
            if sums is None:
                sums = np.zeros((len(clusters), block.shape[1]))
                unit_sums = np.zeros_like(sums)
            keep = lab >= 0
            rows = np.searchsorted(clusters, lab[keep])
            units = normalize(block[keep])
            np.add.at(sums, rows, block[keep])
            np.add.at(unit_sums, rows, units)
            np.add.at(unit_sq, rows, np.einsum("ij,ij->i", units, units))
        if start != len(labels):
            raise DataError(f"cluster-similarity: {start} feature rows for {len(labels)} labels")
        if sums is None:
            sums = unit_sums = np.zeros((len(clusters), 0))
        counts = np.bincount(np.searchsorted(clusters, labels[labels >= 0]), minlength=len(clusters))
        return cls(clusters, counts, sums, unit_sums, unit_sq)

    def centres(self) -> np.ndarray:
        return self.sums / np.maximum(self.counts, 1)[:, None]

    def intra_means(self) -> np.ndarray:
        """Mean cosine similarity over distinct member pairs per cluster; NaN with one member."""
        n = self.counts.astype(np.float64)
        pair_sum = np.einsum("ij,ij->i", self.unit_sums, self.unit_sums) - self.unit_sq
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n >= 2, pair_sum / (n * (n - 1)), np.nan)


def inter_cluster_similarity(centres: np.ndarray) -> np.ndarray:
    """(K, K) cosine similarity of the cluster centres."""
    if len(centres) == 0:
        return np.zeros((0, 0))
    return cosine_similarity(centres)


def sample_members(members: np.ndarray, max_members: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``max_members`` of ``members``, drawn without replacement, in ascending order."""
    if len(members) <= max_members:
        return np.sort(members)
    return np.sort(rng.choice(members, size=max_members, replace=False))


def off_diagonal_mean(matrix: np.ndarray) -> float | None:
    """Mean of the entries off the diagonal of a square matrix; None when there are none."""
    k = len(matrix)
    if k < 2:
        return None
    return float((matrix.sum() - np.trace(matrix)) / (k * (k - 1)))


def cluster_similarity(
    features: np.ndarray, labels: np.ndarray, max_members: int = 200, random_state: int = 0
) -> dict[str, Any]:
    """Everything the explainer stores, for an in-memory (N, D) matrix: a dict of arrays."""
    features = np.asarray(features)
    sums = ClusterSums.accumulate(iter([features]), labels)
    result = _summaries(sums)
    rng = np.random.default_rng(random_state)
    result["intra"] = {}
    for k in sums.clusters:
        members = sample_members(np.flatnonzero(np.asarray(labels) == k), max_members, rng)
        result["intra"][int(k)] = (members, cosine_similarity(features[members]))
    return result


def _summaries(sums: ClusterSums) -> dict[str, Any]:
    inter = inter_cluster_similarity(sums.centres())
    intra = sums.intra_means()
    finite = intra[np.isfinite(intra)]
    return {
        "clusters": sums.clusters,
        "n_members": sums.counts,
        "inter": inter,
        "intra_mean": intra,
        "inter_mean": off_diagonal_mean(inter),
        "intra_mean_overall": float(finite.mean()) if len(finite) else None,
    }


class ClusterSimilarityExplainer:
    """Stores inter- and intra-cluster cosine similarities of the fused features."""

    requires: ClassVar[Sequence[str]] = ("labels",)
    after: ClassVar[Sequence[str]] = ()
    tasks: ClassVar[Sequence[str]] = ("cluster",)

    def __init__(self, features: str = "features/fused", max_members: int = 200, random_state: int = 0) -> None:
        self.features = features
        self.max_members = max_members
        self.random_state = random_state

    def run(self, ctx: Any, out: Any) -> None:
        store, labels = ctx.store, np.asarray(ctx.labels())
        if not store.has(self.features):
            raise DataError(f"cluster-similarity: the run has no '{self.features}' features")
        array = store.array(self.features)
        if len(array.shape) != 2 or array.shape[0] != len(labels):
            raise DataError(
                f"cluster-similarity: '{self.features}' has shape {tuple(array.shape)}; "
                f"expected ({len(labels)}, D), one row per sample"
            )
        sums = ClusterSums.accumulate(row_blocks(array), labels)
        summary = _summaries(sums)
        k = len(sums.clusters)
        out.create_array("clusters", (k,), "int64")[:] = sums.clusters
        if k:
            out.create_array("inter", (k, k), "float32")[:] = summary["inter"].astype(np.float32)
            out.create_array("intra_mean", (k,), "float32")[:] = summary["intra_mean"].astype(np.float32)
        rng = np.random.default_rng(self.random_state)
        for cluster in sums.clusters:
            members = sample_members(np.flatnonzero(labels == cluster), self.max_members, rng)
            rows = np.asarray(array.get_orthogonal_selection((members,)), dtype=np.float64)
            m = len(members)
            out.create_array(f"intra/{cluster}/members", (m,), "int64")[:] = members
            out.create_array(f"intra/{cluster}/similarity", (m, m), "float32")[:] = cosine_similarity(rows).astype(
                np.float32
            )
        out.attrs.update(
            {
                "features": self.features,
                "clusters": [int(c) for c in sums.clusters],
                "n_members": [int(n) for n in sums.counts],
                "intra_mean": [None if not np.isfinite(v) else float(v) for v in summary["intra_mean"]],
                "intra_mean_overall": summary["intra_mean_overall"],
                "inter_mean": summary["inter_mean"],
                "max_members": self.max_members,
                "random_state": self.random_state,
            }
        )
