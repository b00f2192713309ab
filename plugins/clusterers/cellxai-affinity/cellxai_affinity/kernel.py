"""One AP sweep over a group of rows as a compiled loop (numba, CPU): the torch block ops fused.

The torch path (:mod:`.propagation`) makes ~19 passes over each row block per sweep (a tensor op
each); this loop reads R, A and S once and writes A and R once, per row, while the row is in cache:
scikit-learn's updates, in the same order, in float32 (lerp as torch computes it for weights < 0.5:
``old + w * (new - old)``). Column sums of max(R, 0) accumulate in float64 per row group, in row
order, so results do not depend on the number of threads. Compiled once, cached on disk.
"""

from __future__ import annotations

import numba
import numpy as np


LOWEST = np.float32(np.finfo(np.float32).min)
FAST = {"nnan", "ninf", "nsz"}  # lets LLVM vectorise the max loops; no reassociation or FMA: rounding as torch


@numba.njit(nogil=True, cache=True, boundscheck=False, fastmath=FAST)
def sweep_rows(
    R: np.ndarray, A: np.ndarray, S: np.ndarray, colsum: np.ndarray, ceiling: np.ndarray, rows: np.ndarray,
    step: float, finish_a: bool, compute_r: bool, part: np.ndarray, diag_r: np.ndarray, exemplar: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """For each row i of ``rows``: finish A of the previous iteration, then R of this one (in place)."""
    n = R.shape[1]
    w = np.float32(step)
    for i in rows:
        Ri, Ai, Si = R[i], A[i], S[i]
        first = LOWEST  # max_k (A + S)_ik, found while A is finished
        if finish_a:
            diag, old = colsum[i] - Ri[i], Ai[i]
            for j in range(n):
                a = Ai[j] + w * (min(colsum[j] - Ri[j], ceiling[j]) - Ai[j])
                Ai[j] = a
                first = max(first, a + Si[j])
            Ai[i] = old + w * (diag - old)  # the diagonal is not clipped
            exemplar[i] = Ai[i] + Ri[i] > 0
            first = max(first, Ai[i] + Si[i])  # the clipped diagonal counted above is not larger
        if compute_r:
            best = _row_max_at(Ai, Si, first, n) if finish_a else -1
            if best < 0:  # the first sweep, or a maximum that was rounded otherwise: a pass of its own
                first = LOWEST
                for j in range(n):
                    first = max(first, Ai[j] + Si[j])
                best = _row_max_at(Ai, Si, first, n)
            second = LOWEST
            for j in range(best):
                second = max(second, Ai[j] + Si[j])
            for j in range(best + 1, n):
                second = max(second, Ai[j] + Si[j])
            old = Ri[best]
            for j in range(n):
                r = Ri[j] + w * ((Si[j] - first) - Ri[j])
                Ri[j] = r
                part[j] += max(r, np.float32(0))
            r = old + w * ((Si[best] - second) - old)  # the best column competes with the runner-up
            part[best] += max(r, np.float32(0)) - max(Ri[best], np.float32(0))
            Ri[best] = r
            diag_r[i] = Ri[i]


@numba.njit(nogil=True, cache=True, boundscheck=False, fastmath=FAST)
def _row_max_at(Ai: np.ndarray, Si: np.ndarray, first: float, n: int) -> int:  # pragma: no cover - compiled
    """The first column where A + S equals ``first`` (-1: none)."""
    for j in range(n):
        if Ai[j] + Si[j] == first:
            return j
    return -1
