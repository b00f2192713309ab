"""Affinity Propagation messages on a k-nearest-neighbour graph: O(N k) memory and time per iteration.

The graph has a fixed width: each point i has k + 1 edges, to itself (the self loop
carrying the preference) and to its k nearest neighbours, so the similarities S,
responsibilities R and availabilities A are (k + 1, N) tensors, edge slot first: row 0
holds every point's self loop. The layout is the transpose of the natural (N, k + 1)
because every per-point max over its edges is then an element-wise op over contiguous
length-N vectors (2 ms at N = 100,000 where ``topk`` over short rows takes 100 ms),
and every update is a whole-tensor torch op (no per-sample loop). The updates are the
dense solver's (Frey & Dueck 2007, as scikit-learn's ``_affinity_propagation``) with
every sum and max taken over the edges that exist:

  R(i,j) <- d R(i,j) + (1 - d) [S(i,j) - max_{j' != j, edges of i} (A(i,j') + S(i,j'))]
  c(j)    = R(j,j) + sum_{edges i->j, i != j} max(R(i,j), 0)
  A(i,j) <- d A(i,j) + (1 - d) min(0, c(j) - max(R(i,j), 0))   (i != j)
  A(j,j) <- d A(j,j) + (1 - d) (c(j) - R(j,j))

and the same convergence test (the exemplar set unchanged for ``convergence_iter``
iterations). Column sums are an ``index_add_`` over the edge targets: deterministic on
CPU; on CUDA the atomic adds may reorder float sums between runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

FLOAT32 = torch.finfo(torch.float32)


@dataclass
class SparseGraph:
    """Edges of the AP graph as (k + 1, N) tensors; row 0 is every point's self loop."""

    targets: torch.Tensor  # (k + 1, N) int64: row 0 is arange(N)
    similarity: torch.Tensor  # (k + 1, N) float32: row 0 the preference, then -squared distances

    @property
    def n(self) -> int:
        return int(self.targets.shape[1])


def build_graph(
    indices: np.ndarray,
    edge_similarity: np.ndarray,
    preference: float,
    random_state: np.random.RandomState | None,
    device: torch.device,
) -> SparseGraph:
    """The graph of (N, k) ``indices`` and ``edge_similarity``, ``preference`` on the self loops,
    plus the dense solver's tie-breaking noise.

    The noise is scikit-learn's ``(eps * S + tiny * 100) * standard_normal`` with float32's
    eps and tiny, drawn for the (N, k + 1) edges in row order; ``random_state=None`` adds none.
    """
    n = len(indices)
    targets = np.concatenate([np.arange(n, dtype=np.int64)[:, None], indices.astype(np.int64)], axis=1)
    sim = np.empty(targets.shape, dtype=np.float32)
    sim[:, 0] = preference
    sim[:, 1:] = edge_similarity
    if random_state is not None:
        noise = random_state.standard_normal(size=sim.shape).astype(np.float32)
        sim += (sim * FLOAT32.eps + FLOAT32.tiny * 100) * noise
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a.T)).to(device)  # noqa: E731
    return SparseGraph(as_tensor(targets), as_tensor(sim))


@dataclass
class SparseResult:
    """Exemplar indicator of the last iteration and how the run ended."""

    exemplar_mask: np.ndarray  # (N,) bool: A(i,i) + R(i,i) > 0
    n_iter: int
    converged: bool


def propagate_sparse(
    graph: SparseGraph, *, damping: float, max_iter: int, convergence_iter: int, tolerance: float = 0.0
) -> SparseResult:
    """Run the message passing on ``graph`` (not modified).

    Stops when the exemplar set has not changed for ``convergence_iter`` iterations, as
    the dense solver does, except for at most ``tolerance * N`` points. ``tolerance=0``
    is the dense rule; on 100,000 points a few dozen flip for ever (measured: 25-60
    after 500 iterations), so the compressing levels allow 0.1%.
    """
    S, targets, n = graph.similarity, graph.targets, graph.n
    flat_targets = targets.reshape(-1)
    R = torch.zeros_like(S)
    A = torch.zeros_like(S)
    work = torch.empty_like(S)
    is_best = torch.empty(S.shape, dtype=torch.bool, device=S.device)
    colsum = torch.empty(n, dtype=S.dtype, device=S.device)
    history = torch.zeros((convergence_iter, n), dtype=torch.bool, device=S.device)
    step = float(1.0 - damping)
    exemplar = torch.zeros(n, dtype=torch.bool, device=S.device)
    allowed = int(tolerance * n)
    for it in range(max_iter):
        _responsibilities(S, A, R, work, is_best, step)
        _availabilities(R, A, work, colsum, flat_targets, targets, step)
        exemplar = (A[0] + R[0]) > 0
        history[it % convergence_iter] = exemplar
        if it >= convergence_iter:
            se = history.sum(dim=0)
            unstable = n - int(((se == convergence_iter) | (se == 0)).sum())
            if unstable <= allowed and bool(exemplar.any()):
                return SparseResult(exemplar.cpu().numpy(), it + 1, True)
    return SparseResult(exemplar.cpu().numpy(), max_iter, False)


def _responsibilities(
    S: torch.Tensor, A: torch.Tensor, R: torch.Tensor, work: torch.Tensor, is_best: torch.Tensor, step: float
) -> None:
    """R <- lerp(R, S - best competing A + S of the point, 1 - damping), in place.

    Where an edge holds its point's maximum, the competitor is the runner-up, which
    equals the maximum when two edges tie (then every edge gets S - max).
    """
    torch.add(A, S, out=work)
    first = work.amax(dim=0)
    torch.eq(work, first, out=is_best)
    tied = is_best.sum(dim=0) > 1
    second = work.masked_fill_(is_best, float("-inf")).amax(dim=0)
    second = torch.where(tied, first, second)
    torch.sub(S, first, out=work)
    work.copy_(torch.where(is_best, S - second, work))
    R.lerp_(work, step)


def _availabilities(
    R: torch.Tensor, A: torch.Tensor, work: torch.Tensor, colsum: torch.Tensor,
    flat_targets: torch.Tensor, targets: torch.Tensor, step: float,
) -> None:
    """A <- lerp(A, min(0, c(j) - Rp(i,j)) off the self loop and c(j) - R(j,j) on it, 1 - damping), in place."""
    torch.clamp(R, min=0, out=work)
    work[0] = R[0]  # Rp keeps R's own diagonal
    colsum.zero_().index_add_(0, flat_targets, work.reshape(-1))
    torch.sub(torch.take(colsum, targets), work, out=work)
    self_loop = work[0].clone()
    work.clamp_(max=0)
    work[0] = self_loop
    A.lerp_(work, step)
