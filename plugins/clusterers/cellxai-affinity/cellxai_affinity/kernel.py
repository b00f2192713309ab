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


LOWEST = np.int32(-(2**31))
FAST = {"nnan", "ninf", "nsz", "reassoc"}  # lets LLVM vectorise the loops (no FMA contraction)


@numba.njit(nogil=True, cache=True, boundscheck=False, fastmath=FAST)
def sweep_rows(
    R: np.ndarray, A: np.ndarray, S: np.ndarray, colsum: np.ndarray, ceiling: np.ndarray, rows: np.ndarray,
    step: float, finish_a: bool, compute_r: bool, part: np.ndarray, diag_r: np.ndarray, exemplar: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """For each row i of ``rows``: finish A of the previous iteration, then R of this one (in place).

    The row maximum of A + S, its first column and the runner-up are found on order-preserving int32
    keys of the floats (LLVM vectorises integer maxima, not float ones); -0.0 counts as 0.0."""
    n = R.shape[1]
    w = np.float32(step)
    T = np.empty(n, np.float32)
    keys, pair = T.view(np.int32), np.empty(1, np.int32)
    for i in rows:
        Ri, Ai, Si = R[i], A[i], S[i]
        if finish_a:
            diag, old = colsum[i] - Ri[i], Ai[i]
            for j in range(n):
                Ai[j] = Ai[j] + w * (min(colsum[j] - Ri[j], ceiling[j]) - Ai[j])
            Ai[i] = old + w * (diag - old)  # the diagonal is not clipped
            exemplar[i] = Ai[i] + Ri[i] > 0
        if compute_r:
            for j in range(n):
                T[j] = Ai[j] + Si[j]
            top = LOWEST
            for j in range(n):
                x = keys[j]
                x ^= (x >> 31) & 0x7FFFFFFF
                keys[j] = x + (x == -1)
                top = max(top, keys[j])
            best = 0
            while keys[best] != top:
                best += 1
            runner = LOWEST
            for j in range(best):
                runner = max(runner, keys[j])
            for j in range(best + 1, n):
                runner = max(runner, keys[j])
            pair[0] = runner ^ ((runner >> 31) & 0x7FFFFFFF)
            first, second = Ai[best] + Si[best], pair.view(np.float32)[0]
            old = Ri[best]
            for j in range(n):
                r = Ri[j] + w * ((Si[j] - first) - Ri[j])
                Ri[j] = r
                part[j] += max(r, np.float32(0))
            r = old + w * ((Si[best] - second) - old)  # the best column competes with the runner-up
            part[best] += max(r, np.float32(0)) - max(Ri[best], np.float32(0))
            Ri[best] = r
            diag_r[i] = Ri[i]
