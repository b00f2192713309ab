"""Affinity Propagation message passing in torch float32, in place, on any device.

The algorithm is scikit-learn's ``_affinity_propagation`` step by step (same updates,
same damping, same convergence test, same exemplar refinement and label assignment),
reorganised for memory and speed: only three N x N matrices (S, R, A) exist, and each
iteration is one sweep over row blocks that finishes the availabilities of the previous
iteration and computes the responsibilities of this one while the block is in cache.

Per sweep ``s`` and row block:
  (a) A_{s-1} = damping * A_{s-2} - (1 - damping) * clip(Rp_{s-1} - colsum_{s-1}, 0)
      (diagonal not clipped), where Rp is max(R, 0) with R's own diagonal and colsum
      its column sums;
  (b) R_s = damping * R_{s-1} + (1 - damping) * (S - max_{k != .}(A_{s-1} + S)), as torch.lerp;
      and the column sums of Rp_s are accumulated for the next sweep.
The convergence test of iteration ``s - 1`` runs after sweep ``s``; when it stops, the
extra R computed in (b) is unused (labels depend only on S and the exemplar set).
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from .similarity import row_blocks

try:  # imported with the module, not inside a timed fit: numba and the cached kernel take ~0.5 s to load
    from .kernel import sweep_rows
except ImportError:  # pragma: no cover - numba missing: the torch block ops
    sweep_rows = None


@dataclass
class PropagationResult:
    """Exemplar indicator of the last iteration and how the run ended."""

    exemplar_mask: torch.Tensor  # (N,) bool: diag(A) + diag(R) > 0
    n_iter: int
    converged: bool


def propagate(
    S: torch.Tensor,
    *,
    damping: float,
    max_iter: int,
    convergence_iter: int,
    block_rows: int,
    n_threads: int = 1,
    compiled: bool | None = None,
) -> PropagationResult:
    """Run the message passing on ``S`` (preference and noise already in place; S is not modified).

    ``n_threads`` > 1 (CPU) processes groups of row blocks in parallel Python threads with
    torch single-threaded inside: one barrier per sweep instead of OpenMP's one per tensor
    op (small ops get 10-100x slower when a core is busy elsewhere). The row groups and the order of
    the column-sum reduction do not depend on ``n_threads``, so neither do the results.
    ``compiled`` (default: on CPU) runs each group as one fused loop (:mod:`.kernel`) instead of torch ops.
    """
    n = S.shape[0]
    dev = S.device
    compiled = dev.type == "cpu" and sweep_rows is not None if compiled is None else compiled
    R = torch.zeros_like(S)
    A = torch.zeros_like(S)
    groups = _row_groups(n, block_rows)
    padded = -(-n // CHUNK) * CHUNK
    work = [] if compiled else [torch.full((min(block_rows, n), padded), float("-inf"), dtype=S.dtype, device=dev) for _ in groups]
    colsum = torch.zeros(n, dtype=S.dtype, device=dev)  # sum_i Rp_ij of the previous sweep
    ceiling = torch.zeros(n, dtype=S.dtype, device=dev)  # min(colsum, 0)
    colsum_parts = torch.zeros((len(groups), n), dtype=torch.float64, device=dev)
    diag_r = torch.zeros(n, dtype=S.dtype, device=dev)
    exemplar = torch.zeros(n, dtype=torch.bool, device=dev)
    history = torch.zeros((n, convergence_iter), dtype=torch.bool, device=dev)
    step = float(1.0 - damping)  # lerp(old, new, step) = damping * old + (1 - damping) * new

    if compiled:
        views = [x.numpy() for x in (R, A, S, colsum, ceiling)]
        rows = [np.arange(g[0][0], g[-1][1]) for g in groups]
        outs = (diag_r.numpy(), exemplar.numpy())

    def sweep_group(g: int, finish_a: bool, compute_r: bool) -> None:
        if compiled:
            sweep_rows(*views, rows[g], step, finish_a, compute_r, colsum_parts[g].numpy(), *outs)
            return
        part = colsum_parts[g]
        for r0, r1 in groups[g]:
            Rb, Ab, Sb, t_pad = R[r0:r1], A[r0:r1], S[r0:r1], work[g][: r1 - r0]
            t = t_pad[:, :n]  # the -inf padding columns are never written
            if finish_a:
                _availability_block(Rb, Ab, t, colsum, ceiling, r0, step)
                exemplar[r0:r1] = (Ab.diagonal(r0) + Rb.diagonal(r0)) > 0
            if compute_r:
                _responsibility_block(Rb, Ab, Sb, t_pad, step)
                torch.clamp(Rb, min=0, out=t)
                part += t.sum(dim=0)
                diag_r[r0:r1] = Rb.diagonal(r0)

    converged = False
    n_iter = max_iter
    with _parallel_runner(n_threads if dev.type == "cpu" else 1) as run_all:
        for sweep in range(max_iter + 1):
            finish_a, compute_r = sweep > 0, sweep < max_iter
            colsum_parts.zero_()
            run_all(sweep_group, [(g, finish_a, compute_r) for g in range(len(groups))])
            if finish_a:
                it = sweep - 1
                history[:, it % convergence_iter] = exemplar
                if it >= convergence_iter:
                    se = history.sum(dim=1)
                    stable = int(((se == convergence_iter) | (se == 0)).sum())
                    if stable == n and bool(exemplar.any()):
                        converged, n_iter = True, it + 1
                        break
            if compute_r:
                # Rp keeps R's own diagonal: swap max(R_jj, 0) for R_jj in the column sums.
                total = colsum_parts.sum(dim=0)
                total += diag_r - diag_r.clamp(min=0)
                colsum.copy_(total)
                torch.clamp(colsum, max=0, out=ceiling)
    return PropagationResult(exemplar.clone(), n_iter, converged)


GROUPS = 8  # row groups per sweep; fixed so that results do not depend on the thread count


def _row_groups(n: int, block_rows: int) -> list[list[tuple[int, int]]]:
    """The row blocks split into at most GROUPS contiguous groups of about equal size."""
    blocks = row_blocks(n, block_rows)
    n_groups = min(GROUPS, len(blocks))
    bounds = np.linspace(0, len(blocks), n_groups + 1).round().astype(int)
    return [blocks[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


@contextlib.contextmanager
def torch_single_threaded() -> Iterator[None]:
    """torch at one intra-op thread inside the block: many small ops, no OpenMP barrier per op.

    On a busy machine an OpenMP barrier waits for a descheduled thread: small ops become
    10-100x slower. Parallelism comes from :func:`_parallel_runner` instead.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def _parallel_runner(n_threads: int) -> Iterator[Callable[[Callable[..., None], list[tuple]], None]]:
    """``run_all(fn, arg_tuples)``: inline when single-threaded, else on a pool of Python threads."""
    with torch_single_threaded():
        if n_threads <= 1:
            yield lambda fn, args: [fn(*a) for a in args] and None
            return
        with ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="cellxai-ap") as pool:

            def run_all(fn: Callable[..., None], args: list[tuple]) -> None:
                for future in [pool.submit(fn, *a) for a in args]:
                    future.result()

            yield run_all


def _availability_block(
    Rb: torch.Tensor, Ab: torch.Tensor, t: torch.Tensor, colsum: torch.Tensor, ceiling: torch.Tensor, r0: int, step: float
) -> None:
    """A rows [r0, r0 + len) of the previous iteration, in place.

    scikit-learn's new A is ``-clip(max(R, 0) - colsum, 0)`` off the diagonal and
    ``colsum - R_jj`` on it; off the diagonal that equals ``min(colsum - R, min(colsum, 0))``
    exactly (``ceiling`` = min(colsum, 0)). Then A = damping * A + (1 - damping) * new A.
    """
    torch.sub(colsum, Rb, out=t)
    t_diag = t.diagonal(r0)
    new_diag = t_diag.clone()
    torch.minimum(t, ceiling, out=t)
    t_diag.copy_(new_diag)
    Ab.lerp_(t, step)


CHUNK = 32  # columns per chunk of the two-level row maximum (fastest on AVX2 CPUs)


def _responsibility_block(Rb: torch.Tensor, Ab: torch.Tensor, Sb: torch.Tensor, t_pad: torch.Tensor, step: float) -> None:
    """R rows of this iteration, in place: S minus the best competing A + S of each row.

    ``t_pad`` is the work block padded with -inf columns to a multiple of CHUNK. The row
    maximum, its first index and the runner-up (scikit-learn's Y, I and Y2) come from
    chunk maxima: one fast pass instead of ``max(dim=1)``, which tracks indices slowly.
    """
    k, n = Sb.shape
    t = t_pad[:, :n]
    torch.add(Ab, Sb, out=t)
    chunk_max = t_pad.view(k, -1, CHUNK).amax(dim=2)
    chunk = chunk_max.argmax(dim=1, keepdim=True)
    first = chunk_max.gather(1, chunk)
    cols = chunk * CHUNK + torch.arange(CHUNK, device=t.device)
    in_chunk = t_pad.gather(1, cols)
    pos = in_chunk.argmax(dim=1, keepdim=True)
    best = cols.gather(1, pos)
    in_chunk.scatter_(1, pos, float("-inf"))
    chunk_max.scatter_(1, chunk, in_chunk.amax(dim=1, keepdim=True))
    second = chunk_max.amax(dim=1, keepdim=True)
    torch.sub(Sb, first, out=t)
    t.scatter_(1, best, Sb.gather(1, best) - second)
    Rb.lerp_(t, step)


def assign_labels(S: torch.Tensor, exemplar_mask: torch.Tensor, block_elems: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's exemplar refinement and labelling: ``(cluster_centers_indices, labels)``.

    Each point goes to its most similar exemplar; each cluster's exemplar then becomes
    the member with the largest summed similarity to the other members; points are
    reassigned to the refined exemplars. No exemplar: labels -1 and no centres.
    """
    n = S.shape[0]
    exemplars = torch.nonzero(exemplar_mask).flatten()
    k = exemplars.numel()
    if k == 0:
        return np.array([], dtype=np.int64), np.full(n, -1, dtype=np.int64)
    members = _nearest_exemplar(S, exemplars, block_elems)
    order = torch.argsort(members, stable=True)
    counts = torch.bincount(members, minlength=k).tolist()
    refined = exemplars.clone()
    start = 0
    for cluster, count in enumerate(counts):
        ii = order[start : start + count]
        start += count
        refined[cluster] = ii[torch.argmax(_member_column_sums(S, ii, block_elems))]
    members = _nearest_exemplar(S, refined, block_elems)
    labels = refined[members].cpu().numpy()
    centers = np.unique(labels)
    return centers, np.searchsorted(centers, labels)


def _nearest_exemplar(S: torch.Tensor, exemplars: torch.Tensor, block_elems: int) -> torch.Tensor:
    """argmax over the exemplar columns of each row, exemplars labelled as themselves."""
    n, k = S.shape[0], exemplars.numel()
    c = torch.empty(n, dtype=torch.long, device=S.device)
    for r0, r1 in row_blocks(n, max(1, block_elems // max(k, 1))):
        c[r0:r1] = S[r0:r1].index_select(1, exemplars).argmax(dim=1)
    c[exemplars] = torch.arange(k, device=S.device)
    return c


def _member_column_sums(S: torch.Tensor, ii: torch.Tensor, block_elems: int) -> torch.Tensor:
    """``S[ii][:, ii].sum(0)`` in float64 without materialising the sub-matrix."""
    acc = torch.zeros(ii.numel(), dtype=torch.float64, device=S.device)
    for r0, r1 in row_blocks(ii.numel(), max(1, block_elems // S.shape[0])):
        acc += S.index_select(0, ii[r0:r1]).index_select(1, ii).sum(dim=0, dtype=torch.float64)
    return acc
