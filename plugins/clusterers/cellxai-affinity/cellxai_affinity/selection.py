"""A stated choice of the number of clusters: Affinity Propagation over a sweep of preferences,
scored by silhouettes of the reduced features (issue #13 item 5).

Why: AP's default preference (the median similarity) is a convention, not a criterion. On wells
whose programs differ by little it splits one response into many small clusters (14 clusters for 4
programs at half the planted change). Lower preferences give fewer clusters. The silhouette of a
sample is (b - a) / max(a, b), a = its mean distance within its own cluster, b = to the nearest
other cluster; it needs no ground truth and is computed on the features AP clusters.

The rule, in two steps:
1. keep the candidate with the MOST clusters in which every cluster (of two or more samples) has a
   mean silhouette >= 0.5, "a reasonable structure" in Kaufman & Rousseeuw's reading of silhouettes
   (Finding Groups in Data, 1990): no group is split off unless it separates by itself;
2. when no candidate has that, keep the best overall silhouette. Candidates within noise of the
   best are tied: within two standard errors of the best candidate's mean silhouette (its
   per-sample silhouettes' sd / sqrt(n)), at least 0.01. Among tied candidates, keep the most
   clusters (as step 1 does: groups are merged only when the data say so), then the best
   silhouette. (Until session 7: ties within 0.01, fewer clusters. On the demo's wells at half
   the planted change, AP gave 4 clusters at six preferences, silhouette 0.369, and 3 at the
   lowest one only, 0.383: a difference within the 0.025 that two standard errors span there;
   the old rule kept 3 clusters, ARI 0.60, where 4 give 0.94. "The number found at the most
   preferences" was tried too: it merged two programs of a 64-well plate, 3 clusters at two
   preferences against 4 at one.)
The overall silhouette alone prefers merging two groups that each separate well (five programs
found at the median, four at the silhouette's maximum); step 1 keeps them apart. Every candidate is
recorded, with the ``margin``: the kept silhouette minus the best one with another number of
clusters (negative when step 1 kept more clusters than the overall maximum).
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
REASONABLE = 0.5  # Kaufman & Rousseeuw: mean silhouette >= 0.5 is a reasonable structure


@dataclass
class Candidate:
    preference: float
    n_clusters: int
    silhouette: float | None
    min_cluster_silhouette: float | None = None  # the worst cluster's mean silhouette
    silhouette_se: float | None = None  # standard error of the mean silhouette (sd / sqrt(n))


@dataclass
class Selection:
    """The sweep, the chosen candidate and how clear the choice was (recorded in the store)."""

    rule: str
    candidates: list[Candidate] = field(default_factory=list)
    chosen: int = 0
    margin: float | None = None
    note: str = ""
    step: str = ""  # which step of the rule chose (see the module doc)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "criterion": f"the most clusters in which every cluster has a mean silhouette >= {REASONABLE} "
            "(Kaufman & Rousseeuw's reasonable structure); if none, the best overall silhouette (ties: within two "
            f"standard errors of the best, at least {TIE}; among them the most clusters); silhouettes of the "
            "reduced features, euclidean",
            "step": self.step,
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


def silhouettes(Z: np.ndarray, labels: np.ndarray, seed: int) -> tuple[float | None, float | None, float | None]:
    """(mean silhouette, the worst cluster's mean silhouette, the mean's standard error) of ``labels`` on
    ``Z``; None for one cluster or one sample per cluster. Above SILHOUETTE_SAMPLE samples, on an even
    random sample."""
    from sklearn.metrics import silhouette_samples

    labels = np.asarray(labels)
    if not 1 < len(np.unique(labels)) < len(labels):
        return None, None, None
    if len(labels) > SILHOUETTE_SAMPLE:
        keep = np.random.default_rng(seed).choice(len(labels), SILHOUETTE_SAMPLE, replace=False)
        Z, labels = Z[keep], labels[keep]
        if not 1 < len(np.unique(labels)) < len(labels):
            return None, None, None
    values = silhouette_samples(Z, labels)
    per = [values[labels == c].mean() for c in np.unique(labels) if (labels == c).sum() > 1]
    return float(values.mean()), float(min(per)) if per else None, float(values.std() / np.sqrt(len(values)))


def _choose(cands: list[Candidate], scored: list[int]) -> tuple[int, str]:
    """The rule of the module doc: step 1 (every cluster reasonable, most clusters), else step 2."""
    reasonable = [i for i in scored if (cands[i].min_cluster_silhouette or -1.0) >= REASONABLE]
    if reasonable:
        best = max(reasonable, key=lambda i: (cands[i].n_clusters, cands[i].silhouette))
        return best, "every cluster separates (mean silhouette >= 0.5 in each); the most such clusters"
    top = max(scored, key=lambda i: cands[i].silhouette)  # type: ignore[arg-type,return-value]
    window = max(TIE, 2 * (cands[top].silhouette_se or 0.0))
    tied = [i for i in scored if cands[i].silhouette >= cands[top].silhouette - window]  # type: ignore[operator]
    best = max(tied, key=lambda i: (cands[i].n_clusters, cands[i].silhouette))  # type: ignore[arg-type,return-value]
    return best, (f"no candidate has every cluster >= 0.5: the best overall silhouette, ties within {window:.3f} "
                  "(two standard errors): the most clusters")


def sweep(
    Z: np.ndarray, median: float, fit_at: Callable[[float], Any], first: Any, seed: int
) -> tuple[Any, Selection]:
    """Fit AP at each candidate preference (``first`` is the fit at the median) and keep one by the rule.

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
        selection.candidates.append(Candidate(p, k, *silhouettes(Z, fit.labels, seed)))
    cands = selection.candidates
    scored = [i for i, c in enumerate(cands) if c.silhouette is not None]
    if not scored:
        selection.note = "no preference gave 2 or more clusters of more than one sample; kept the median"
        return first, selection
    chosen, selection.step = _choose(cands, scored)
    selection.chosen = chosen
    others = [cands[i].silhouette for i in scored if cands[i].n_clusters != cands[chosen].n_clusters]
    selection.margin = None if not others else float(cands[chosen].silhouette - max(others))  # type: ignore[operator,type-var]
    return fits[chosen], selection
