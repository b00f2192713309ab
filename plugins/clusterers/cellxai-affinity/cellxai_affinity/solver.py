"""Affinity Propagation on a similarity matrix or on features: preference, bisection, labels.

``affinity_propagation(S, ...)`` is the counterpart of scikit-learn's function of the
same name (same arguments, same results when AP converges) running on torch float32.
``n_clusters`` adds what scikit-learn lacks: a preference found by bisection so that AP
returns a given number of clusters.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .propagation import PropagationResult, assign_labels, propagate, torch_single_threaded
from .similarity import (
    median_similarity,
    negative_squared_distances,
    place_preference_and_noise,
    set_preference,
)

log = logging.getLogger(__name__)
CPU_BLOCK_ELEMS = 1 << 18  # a row block of R, A, S and work stays in cache between the two updates
CUDA_BLOCK_ELEMS = 1 << 24  # big blocks: few kernel launches
MAX_PREFERENCE_TRIALS = 30
BISECTION_RTOL = 1e-4


@dataclass
class APResult:
    """What one Affinity Propagation fit returns (scikit-learn's attribute names)."""

    cluster_centers_indices: np.ndarray
    labels: np.ndarray
    n_iter: int
    converged: bool
    preference: float


def block_elems_for(device: torch.device) -> int:
    return CUDA_BLOCK_ELEMS if device.type == "cuda" else CPU_BLOCK_ELEMS


def affinity_propagation(
    S: Any,
    *,
    preference: float | None = None,
    n_clusters: int | None = None,
    damping: float = 0.5,
    max_iter: int = 200,
    convergence_iter: int = 15,
    random_state: Any = None,
    device: str | torch.device = "cpu",
    tie_noise: bool = True,
) -> APResult:
    """AP on a precomputed (N, N) similarity matrix (numpy or torch; it is copied to float32).

    Defaults are scikit-learn's. ``tie_noise=False`` skips the tie-breaking noise, for a
    matrix that already carries it (to compare implementations on identical input).
    """
    device = torch.device(device)
    S32 = torch.as_tensor(S).to(device=device, dtype=torch.float32, copy=True)
    if S32.ndim != 2 or S32.shape[0] != S32.shape[1]:
        raise ValueError(f"similarity matrix must be square (N, N), got shape {tuple(S32.shape)}")
    return solve(
        S32, symmetric=False, preference=preference, n_clusters=n_clusters, damping=damping,
        max_iter=max_iter, convergence_iter=convergence_iter, random_state=random_state, tie_noise=tie_noise,
    )


def affinity_propagation_features(X: np.ndarray, *, device: torch.device, **kwargs: Any) -> APResult:
    """AP on features with negative squared euclidean similarities, built in place in float32."""
    with torch_single_threaded():
        S = negative_squared_distances(X, device, max(1, block_elems_for(device) // len(X)))
    return solve(S, symmetric=True, **kwargs)


def solve(
    S: torch.Tensor,
    *,
    symmetric: bool,
    preference: float | None,
    n_clusters: int | None,
    damping: float,
    max_iter: int,
    convergence_iter: int,
    random_state: Any,
    tie_noise: bool = True,
) -> APResult:
    """Run AP on ``S`` (float32, consumed: the preference and noise are written into it).

    On CPU the sweeps run on as many Python threads as torch had intra-op threads.
    """
    from sklearn.utils import check_random_state

    threads = torch.get_num_threads() if S.device.type == "cpu" else 1
    with torch_single_threaded():
        n = S.shape[0]
        degenerate = _degenerate(S, preference)
        if degenerate is not None:
            return degenerate
        if preference is None:
            preference = median_similarity(S, symmetric=symmetric)
        block_rows = max(1, block_elems_for(S.device) // n)
        rng = check_random_state(random_state) if tie_noise else None
        diag_noise = place_preference_and_noise(S, float(preference), rng, block_rows)

        def run(p: float) -> PropagationResult:
            set_preference(S, p, diag_noise)
            return propagate(
                S, damping=damping, max_iter=max_iter, convergence_iter=convergence_iter,
                block_rows=block_rows, n_threads=threads,
            )

        if n_clusters is None:
            result, used = run(float(preference)), float(preference)
        else:
            result, used = _bisect_preference(run, float(preference), n_clusters, S)
        if not result.converged:
            log.warning(
                "affinity-propagation did not converge in %d iterations (damping %.2f); labels may be "
                "degenerate: raise max_iter or damping", max_iter, damping,
            )
        centers, labels = assign_labels(S, result.exemplar_mask, block_elems_for(S.device))
        if centers.size == 0:
            log.warning("affinity-propagation found no exemplars: every label is -1")
        return APResult(centers, labels, result.n_iter, result.converged, used)


def _degenerate(S: torch.Tensor, preference: float | None) -> APResult | None:
    """scikit-learn's special case: one sample, or all similarities equal (and one preference)."""
    n = S.shape[0]
    if n > 1:
        off = S[0, 1].item()
        saved = S.diagonal().clone()
        S.diagonal().fill_(off)
        lo, hi = torch.aminmax(S)
        S.diagonal().copy_(saved)
        if lo.item() != hi.item():
            return None
    log.warning("all samples have mutually equal similarities: returning arbitrary cluster centre(s)")
    p = float(np.median(S.cpu().numpy())) if preference is None else float(preference)
    if p > S[0, n - 1].item():
        return APResult(np.arange(n), np.arange(n), 0, True, p)
    return APResult(np.array([0]), np.zeros(n, dtype=np.int64), 0, True, p)


def _bisect_preference(run: Any, start: float, target: int, S: torch.Tensor) -> tuple[PropagationResult, float]:
    """Search the preference giving ``target`` exemplars: bracket by doubling, then bisect.

    Fewer clusters come with a lower preference. Bisection is geometric while the bracket
    is negative (similarities are negative squared distances). Returns the first run
    with exactly ``target`` clusters, else the closest one seen (converged runs first).
    """
    trials: list[tuple[PropagationResult, float, int]] = []

    def trial(p: float) -> int:
        res = run(p)
        k = int(res.exemplar_mask.sum())
        trials.append((res, p, k))
        log.info("affinity-propagation: preference %.6g -> %d clusters", p, k)
        return k

    scale = abs(start) or float(S.abs().max()) or 1.0
    k = trial(start)
    lo = hi = None  # lo: preference with <= target clusters; hi: with >= target
    if k >= target:
        hi = start
    if k <= target:
        lo = start
    step = scale
    while k != target and (lo is None or hi is None) and len(trials) < MAX_PREFERENCE_TRIALS:
        p = (lo if lo is not None else hi) + (step if lo is not None else -step)
        step *= 2
        k = trial(p)
        if k >= target:
            hi = p if hi is None or p < hi else hi
        if k <= target:
            lo = p if lo is None or p > lo else lo
    while k != target and lo is not None and hi is not None and len(trials) < MAX_PREFERENCE_TRIALS:
        if hi - lo <= BISECTION_RTOL * max(abs(lo), abs(hi)):
            break  # the count jumps over the target here
        mid = -math.sqrt(lo * hi) if lo < 0 and hi < 0 else (lo + hi) / 2
        k = trial(mid)
        if k > target:
            hi = mid
        elif k < target:
            lo = mid
    best = min(trials, key=lambda t: (abs(t[2] - target), not t[0].converged))
    if best[2] != target:
        log.warning(
            "affinity-propagation: no preference gave %d clusters in %d trials; using %d (preference %.6g)",
            target, len(trials), best[2], best[1],
        )
    return best[0], best[1]
