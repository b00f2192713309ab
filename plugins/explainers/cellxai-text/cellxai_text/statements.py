"""From per-well numbers to per-cluster statements: the words and why they were chosen.

Pure numpy/scipy on :class:`~cellxai_text.profiles.CellProfiles`; the rules are those
documented on :class:`~cellxai_text.params.TemplateTextParams`:

- density word: percentile rank of the cluster's median well among all wells;
- trend word: the cluster's median change over the course (slope x (S - 1) steps)
  relative to the cell type's level;
- comparison: the property (cell type x density / trend) on which the cluster's median
  lies furthest from the median of the wells in the other clusters, in units of the
  spread (standard deviation) of that property over all clustered wells.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import percentileofscore

from .profiles import CellProfiles

MEASURES = ("trend", "density")  # comparison ties go to the trend, the paper's emphasis
CI_LEVEL, CI_RESAMPLES, CI_SEED = 0.95, 999, 0  # percentile bootstrap of a cluster's median, seeded


def median_ci(values: np.ndarray) -> list[float]:
    """95 % percentile-bootstrap interval of the median of ``values`` (one well: the value itself)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) < 2 or np.ptp(values) == 0:
        v = float(values[0]) if len(values) else float("nan")
        return [v, v]
    from scipy.stats import bootstrap

    res = bootstrap((values,), np.median, confidence_level=CI_LEVEL, n_resamples=CI_RESAMPLES, method="percentile",
                    vectorized=True, axis=-1, rng=np.random.default_rng(CI_SEED))
    return [float(res.confidence_interval.low), float(res.confidence_interval.high)]


@dataclass(frozen=True)
class Thresholds:
    density_low_quantile: float = 0.33
    density_high_quantile: float = 0.67
    trend_threshold: float = 0.1


def density_word(rank: float, th: Thresholds) -> str:
    """'high' / 'moderate' / 'low' from a percentile rank in [0, 1]."""
    if rank >= th.density_high_quantile:
        return "high"
    if rank <= th.density_low_quantile:
        return "low"
    return "moderate"


def trend_word(relative_change: float, th: Thresholds) -> str:
    """'increasing' / 'stable' / 'decreasing' from a change over the course relative to the level."""
    if relative_change > th.trend_threshold:
        return "increasing"
    if relative_change < -th.trend_threshold:
        return "decreasing"
    return "stable"


def relative_trend(profiles: CellProfiles) -> np.ndarray | None:
    """Per-well change over the course, slope x (S - 1), divided by each cell type's level (N, C).

    A level of 0 leaves the change unscaled.
    """
    if profiles.trend is None:
        return None
    level = np.where(np.abs(profiles.level) > 1e-12, np.abs(profiles.level), 1.0)
    return profiles.trend * (profiles.set_size - 1) / level


def describe_clusters(
    profiles: CellProfiles, labels: np.ndarray, th: Thresholds, comparisons: int = 1
) -> list[dict[str, Any]]:
    """One description per cluster (labels >= 0, ascending): statements and comparisons.

    A description is JSON-ready: ``{"cluster", "n", "statements": [{"cell_type",
    "measure", "word", "value", "median", "ci"}], "comparison": [{"cell_type", "measure",
    "direction", "trend_word", "score"}]}``. ``value`` is the percentile rank (density)
    or the relative change over the course (trend); ``median`` the cluster's median in
    feature units (mean density; slope per step); ``ci`` the 95 % bootstrap interval of
    the cluster's median relative change (trend) or median density (density). An object
    class that no well of the cluster contains gets one ``absent`` statement instead.
    """
    labels = np.asarray(labels)
    if labels.shape[0] != profiles.density.shape[0]:
        raise ValueError(f"{labels.shape[0]} labels for {profiles.density.shape[0]} wells")
    clusters = sorted(int(k) for k in np.unique(labels) if k >= 0)
    rel = relative_trend(profiles)
    values = {"density": profiles.density, "trend": rel}
    medians = {
        m: np.array([np.median(v[labels == k], axis=0) for k in clusters]).reshape(len(clusters), -1)
        for m, v in values.items()
        if v is not None
    }
    out = []
    for i, k in enumerate(clusters):
        statements = []
        members = labels == k
        absent = [bool(np.nanmax(np.abs(profiles.density[members, c]), initial=0.0) <= 0) for c in range(len(profiles.cell_types))]
        for c, cell in enumerate(profiles.cell_types):
            if "trend" in medians and not absent[c]:
                r = float(medians["trend"][i, c])
                slope = r * _level(profiles, c) / (profiles.set_size - 1)
                statements.append(_statement(cell, "trend", trend_word(r, th), r, slope, median_ci(rel[members, c])))
        for c, cell in enumerate(profiles.cell_types):
            med = float(medians["density"][i, c])
            if absent[c]:  # none measured in any well of the cluster: no word for a density that is not there
                statements.append(_statement(cell, "absent", "absent", 0.0, 0.0, [0.0, 0.0]))
                continue
            rank = float(percentileofscore(profiles.density[:, c], med, kind="mean")) / 100.0
            statements.append(_statement(cell, "density", density_word(rank, th), rank, med, median_ci(profiles.density[members, c])))
        out.append(
            {
                "cluster": k,
                "n": int((labels == k).sum()),
                "statements": statements,
                "comparison": _comparison(i, k, clusters, labels, values, medians, statements, profiles, comparisons),
            }
        )
    return out


def _statement(cell: str, measure: str, word: str, value: float, median: float, ci: list[float]) -> dict[str, Any]:
    """``ci``: bootstrap interval of the cluster's median relative change (trend) or density (density)."""
    return {"cell_type": cell, "measure": measure, "word": word, "value": value, "median": median, "ci": ci}


def _level(profiles: CellProfiles, c: int) -> float:
    level = abs(float(profiles.level[c]))
    return level if level > 1e-12 else 1.0


def _comparison(
    i: int,
    k: int,
    clusters: list[int],
    labels: np.ndarray,
    values: dict[str, np.ndarray | None],
    medians: dict[str, np.ndarray],
    statements: list[dict[str, Any]],
    profiles: CellProfiles,
    n_best: int,
) -> list[dict[str, Any]]:
    """The ``n_best`` properties that set cluster ``k`` apart from the other clusters."""
    if len(clusters) < 2:
        return []
    clustered = labels >= 0
    others = clustered & (labels != k)
    trend_words = {s["cell_type"]: s["word"] for s in statements if s["measure"] == "trend"}
    candidates = []
    for measure in MEASURES:
        v = values[measure]
        if v is None:
            continue
        for c, cell in enumerate(profiles.cell_types):
            spread = float(np.std(v[clustered, c]))
            diff = float(medians[measure][i, c] - np.median(v[others, c]))
            score = diff / spread if spread > 1e-12 else 0.0
            rest = np.delete(medians[measure][:, c], i)
            own = medians[measure][i, c]
            if score >= 0:
                direction = "highest" if own > rest.max() else "higher"
            else:
                direction = "lowest" if own < rest.min() else "lower"
            candidates.append(
                {
                    "cell_type": cell,
                    "measure": measure,
                    "direction": direction,
                    "trend_word": trend_words.get(cell, "stable"),
                    "score": score,
                }
            )
    order = sorted(range(len(candidates)), key=lambda j: -abs(candidates[j]["score"]))  # stable sort
    return [candidates[j] for j in order[:n_best]]
