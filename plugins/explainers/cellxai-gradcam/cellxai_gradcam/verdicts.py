"""Verdicts computed from the numbers: every trust row has a threshold, a pass / fail and, where it
compares two things measured on the same samples, a paired one-sided Wilcoxon signed-rank test.

A row: ``{"check", "value", "compared_to", "threshold", "p", "n", "passed", "why"}``. ``passed``
is None only when the check could not be made (``why`` says why). ``ALPHA`` is the level of
every test; a check with fewer than ``MIN_PAIRS`` usable pairs cannot pass.

ROAD scores the mean target probability over the removal percentages (MoRF: lower than a
random map's, LeRF: higher); the average sensitivity (relative change of the map under
input noise) must be below the relative distance of the map to another sample's map.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

ALPHA = 0.01
MIN_PAIRS = 6  # the smallest one-sided exact Wilcoxon p with n pairs is 2**-n: n >= 7 can reach 0.01
MASS_RATIO = 3.0  # relevance mass / mask area: 3x what a uniform map scores
RANK_RATIO = 2.0  # rank accuracy / mask area
# ... or half of the way from a uniform map (the area) to a perfect one (1), whichever is lower: where the
# objects cover more than a fifth of the image, 3x their area is out of reach of any map (nuclei tiles: 41 %)
HALFWAY = 0.5
GINI_MIN = 0.5  # a uniform random map has Gini ~ 1/3
RHO_MAX = 0.5  # Spearman rho of trained vs randomised maps must stay below this
EMPTY_MAX = 0.1  # at most 10% of maps empty


def wilcoxon_less(a: np.ndarray, b: np.ndarray) -> tuple[float | None, int]:
    """One-sided p of ``a < b`` over finite pairs (Wilcoxon signed-rank); None with too few pairs or no differences."""
    from scipy.stats import wilcoxon

    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if len(a) < MIN_PAIRS or not np.any(a != b):
        return None, int(len(a))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(wilcoxon(a, b, alternative="less").pvalue), int(len(a))


def _row(check: str, value: float, compared_to: float | None, threshold: str, p: float | None, n: int,
         passed: bool | None, why: str) -> dict[str, Any]:
    return {"check": check, "value": float(value), "compared_to": None if compared_to is None else float(compared_to),
            "threshold": threshold, "p": p, "n": int(n), "passed": passed, "why": why}


def paired_row(check: str, ours: np.ndarray, other: np.ndarray, lower_is_better: bool, what: str) -> dict[str, Any]:
    """``ours`` better than ``other`` on the same samples: Wilcoxon p < ALPHA and the medians in that direction."""
    a, b = (ours, other) if lower_is_better else (other, ours)
    p, n = wilcoxon_less(a, b)
    direction = "below" if lower_is_better else "above"
    threshold = f"{direction} {what}, paired Wilcoxon p < {ALPHA}"
    value, ref = float(np.nanmean(ours)), float(np.nanmean(other))
    if p is None:
        return _row(check, value, ref, threshold, None, n, False, f"{n} usable pairs: too few for the test (needs {MIN_PAIRS})")
    passed = p < ALPHA
    why = f"mean {value:.3f} vs {ref:.3f} ({what}), p = {p:.2g}" + ("" if passed else f" >= {ALPHA}")
    return _row(check, value, ref, threshold, p, n, passed, why)


def ratio_row(check: str, value: np.ndarray, area: np.ndarray, ratio: float, mask: str) -> dict[str, Any]:
    """A localisation score against the mask's area (what a uniform map scores): ratio and a paired test."""
    value, area = np.asarray(value, dtype=float), np.asarray(area, dtype=float)
    ok = np.isfinite(value) & np.isfinite(area)
    p, n = wilcoxon_less(area[ok], value[ok])
    mean_v, mean_a = float(np.mean(value[ok])) if ok.any() else float("nan"), float(np.mean(area[ok])) if ok.any() else float("nan")
    threshold = (f">= {ratio:g} x area of the {mask} (or {HALFWAY:g} of the way from the area to 1, if lower) "
                 f"and above it with Wilcoxon p < {ALPHA}")
    if p is None:
        return _row(check, mean_v, mean_a, threshold, None, n, False if n else None,
                    f"{n} images with a non-empty map and mask: too few for the test")
    required = min(ratio * mean_a, mean_a + HALFWAY * (1 - mean_a))
    passed = bool(mean_v >= required and p < ALPHA)
    why = (f"{mean_v:.3f} = {mean_v / max(mean_a, 1e-12):.1f} x the {mask}' area {mean_a:.3f} (needs {required:.3f}), "
           f"p = {p:.2g}")
    return _row(check, mean_v, mean_a, threshold, p, n, passed, why)


def randomization_row(stage: str, rho: np.ndarray) -> dict[str, Any]:
    """Maps of the randomised model must differ: mean Spearman rho below RHO_MAX, one-sample Wilcoxon of rho - RHO_MAX."""
    rho = np.asarray(rho, dtype=float).ravel()
    rho = rho[np.isfinite(rho)]  # an empty (constant) trained map has no ranking to compare
    p, n = wilcoxon_less(rho, np.full_like(rho, RHO_MAX))
    mean = float(np.mean(rho)) if rho.size else float("nan")
    threshold = f"Spearman rho < {RHO_MAX} (Wilcoxon p < {ALPHA})"
    if p is None:
        return _row(f"maps change when {stage} is randomised", mean, RHO_MAX, threshold, None, n, None if not n else False,
                    f"{n} non-empty maps: too few for the test (empty maps have no ranking to compare)")
    passed = bool(mean < RHO_MAX and p < ALPHA)
    why = f"rho {mean:.3f}, p = {p:.2g}" + ("" if passed else ": the maps barely depend on these trained weights")
    return _row(f"maps change when {stage} is randomised", mean, RHO_MAX, threshold, p, n, passed, why)


def empty_row(empty: int, total: int) -> dict[str, Any]:
    """Maps that are 0 everywhere: no positive evidence for the target at the layer (the ReLU removed all of it)."""
    frac = empty / max(total, 1)
    why = (f"{empty} of {total} maps are 0 everywhere: at the explained layer nothing speaks for the target "
           "in these images (all evidence negative), so Grad-CAM has nothing to show; they are left out of the "
           "localisation checks")
    return _row("empty maps", frac, None, f"<= {EMPTY_MAX:.0%} of maps", None, total, frac <= EMPTY_MAX, why)


def sparseness_row(gini: np.ndarray) -> dict[str, Any]:
    gini = np.asarray(gini, dtype=float)
    mean = float(np.nanmean(gini)) if np.isfinite(gini).any() else float("nan")
    return _row("sparseness (Gini of the map)", mean, 1 / 3, f">= {GINI_MIN} (a uniform random map: ~0.33)", None,
                int(np.isfinite(gini).sum()), bool(mean >= GINI_MIN), f"Gini {mean:.3f}")


def verdict_rows(arrays: dict[str, np.ndarray], mask: str | None, empty: int, total: int) -> list[dict[str, Any]]:
    """All verdicts from the per-sample arrays of :func:`~cellxai_gradcam.evaluate.measure_faithfulness`."""
    rows = [paired_row("deletion AUC below random maps", arrays["deletion_auc"], arrays["random_auc"], True, "random maps")]
    if "insertion_auc" in arrays:
        rows.append(paired_row("insertion AUC above random maps", arrays["insertion_auc"], arrays["random_insertion_auc"],
                               False, "random maps"))
    if mask is not None and "energy_inside" in arrays:
        rows.append(ratio_row(f"relevance mass inside the {mask}", arrays["energy_inside"], arrays["mask_area"], MASS_RATIO, mask))
        rows.append(ratio_row(f"relevance rank accuracy ({mask})", arrays["rank_accuracy"], arrays["mask_area"], RANK_RATIO, mask))
    if "road_morf" in arrays:
        rows.append(paired_row("ROAD MoRF below random maps", arrays["road_morf"], arrays["random_road_morf"], True,
                               "random maps"))
    if "road_lerf" in arrays:
        rows.append(paired_row("ROAD LeRF above random maps", arrays["road_lerf"], arrays["random_road_lerf"], False,
                               "random maps"))
    if "sensitivity" in arrays:
        rows.append(paired_row("average sensitivity below another sample's", arrays["sensitivity"],
                               arrays["other_sample_distance"], True, "the distance to another sample's map"))
    if "sparseness" in arrays:
        rows.append(sparseness_row(arrays["sparseness"]))
    for stage, rho in zip(arrays.get("stages", []), arrays.get("spearman", [])):
        rows.append(randomization_row(str(stage), rho))
    rows.append(empty_row(empty, total))
    return rows
