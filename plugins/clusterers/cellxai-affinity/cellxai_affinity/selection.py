"""A stated choice of the number of clusters: Affinity Propagation over a sweep of preferences,
scored by the silhouette of the reduced features (issue #13 item 5).

Why: AP's default preference (the median similarity) is a convention, not a criterion. On wells
whose programs differ by little it splits one response into many small clusters (17 clusters for 4
programs at half the planted change). Lower preferences give fewer clusters; the silhouette
(mean over samples of (b - a) / max(a, b), a = mean distance within the own cluster, b = to the
nearest other cluster) says which grouping separates best, needs no ground truth, and is computed on
the same reduced features AP clusters. Every candidate is recorded, so the report can show how clear
the choice was: the ``margin`` is the best silhouette minus the best one with another number of
clusters (near 0: two groupings are about as good).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

# Candidate preferences: median + t * (median - minimum similarity) ... written as fractions of the
# way from the minimum (0) to the median (1); below 0 reaches fewer clusters than the minimum does.
FRACTIONS = (1.0, 0.75, 0.5, 0.25, 0.1, 0.0, -0.5, -1.0, -2.0)
SILHOUETTE_SAMPLE = 3000  # silhouette is O(n^2): scored on an even sample above this size
TIE = 0.01  # silhouettes within this of the best count as tied; the fewest clusters wins a tie


@dataclass
class Candidate:
    preference: float
    n_clusters: int
    silhouette: float | None


@dataclass
class Selection:
    """The sweep, the chosen candidate and how clear the choice was (recorded in the store)."""

    rule: str
    candidates: list[Candidate] = field(default_factory=list)
    chosen: int = 0
    margin: float | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "criterion": "silhouette of the reduced features (euclidean); ties within "
            f"{TIE} go to fewer clusters",
            "candidates": [c.__dict__ for c in self.candidates],
            "chosen": self.chosen,
            "margin": self.margin,
            "note": self.note,
        }


def min_similarity(Z: np.ndarray, block: int = 2048) -> float:
    """The smallest similarity, minus the largest squared distance between two rows, in blocks."""
    Z = np.asarray(Z, dtype=np.float64)
    sq = (Z * Z).sum(axis=1)
    worst = 0.0
    for start in range(0, len(Z), block):
        d = sq[start : start + block, None] + sq[None, :] - 2.0 * Z[start : start + block] @ Z.T
        worst = max(worst, float(d.max()))
    return -worst


def silhouette(Z: np.ndarray, labels: np.ndarray, seed: int) -> float | None:
    """Silhouette of ``labels`` on ``Z`` (None for one cluster or one sample per cluster)."""
    from sklearn.metrics import silhouette_score

    k = len(np.unique(labels))
    if not 1 < k < len(labels):
        return None
    size = SILHOUETTE_SAMPLE if len(labels) > SILHOUETTE_SAMPLE else None
    return float(silhouette_score(Z, labels, sample_size=size, random_state=seed))


def sweep(
    Z: np.ndarray, median: float, fit_at: Callable[[float], Any], first: Any, seed: int
) -> tuple[Any, Selection]:
    """Fit AP at each candidate preference (``first`` is the fit at the median) and keep the best.

    Returns the chosen fit and the recorded selection.
    """
    low = min_similarity(Z)
    selection = Selection(rule="silhouette")
    fits: list[Any] = []
    for t in FRACTIONS:
        p = float(median) if t == 1.0 else float(low + t * (median - low))
        fit = first if t == 1.0 else fit_at(p)
        fits.append(fit)
        k = len(np.unique(fit.labels))
        selection.candidates.append(Candidate(p, k, silhouette(Z, fit.labels, seed)))
    scored = [i for i, c in enumerate(selection.candidates) if c.silhouette is not None]
    if not scored:
        selection.note = "no preference gave 2 or more clusters of more than one sample; kept the median"
        return first, selection
    best = max(selection.candidates[i].silhouette for i in scored)  # type: ignore[type-var]
    tied = [i for i in scored if selection.candidates[i].silhouette >= best - TIE]  # type: ignore[operator]
    chosen = min(tied, key=lambda i: (selection.candidates[i].n_clusters, -selection.candidates[i].silhouette))  # type: ignore[operator]
    selection.chosen = chosen
    k = selection.candidates[chosen].n_clusters
    others = [selection.candidates[i].silhouette for i in scored if selection.candidates[i].n_clusters != k]
    selection.margin = None if not others else float(selection.candidates[chosen].silhouette - max(others))  # type: ignore[operator,type-var]
    return fits[chosen], selection
