"""The dense similarity matrix of Affinity Propagation, built in place in float32.

Everything here mirrors scikit-learn's ``AffinityPropagation`` (``affinity="euclidean"``):
negative squared euclidean distances, the median similarity as default preference,
the preference on the diagonal, then the tie-breaking noise
``S += (eps * S + tiny * 100) * standard_normal((n, n))`` drawn from
``numpy.random.RandomState(random_state)``, the same stream in the same order, with
``eps`` and ``tiny`` of float32 (float64's would vanish in float32). Work is done in
row blocks so that no second N x N matrix is ever allocated.
"""

from __future__ import annotations

import numpy as np
import torch

FLOAT32 = torch.finfo(torch.float32)


def row_blocks(n_rows: int, block_rows: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive blocks of at most ``block_rows`` rows."""
    return [(r0, min(r0 + block_rows, n_rows)) for r0 in range(0, n_rows, block_rows)]


def negative_squared_distances(X: np.ndarray, device: torch.device, block_rows: int) -> torch.Tensor:
    """``-||x_i - x_j||^2`` as an (N, N) float32 tensor on ``device``, diagonal exactly 0.

    Computed per row block in float64 from centred data (as scikit-learn's
    ``euclidean_distances``: ``|x|^2 + |y|^2 - 2 x.y`` clipped at 0), then stored as float32.
    """
    X64 = torch.as_tensor(np.asarray(X, dtype=np.float64), device=device)
    X64 = X64 - X64.mean(dim=0, keepdim=True)
    sq = (X64 * X64).sum(dim=1)
    n = X64.shape[0]
    S = torch.empty((n, n), dtype=torch.float32, device=device)
    for r0, r1 in row_blocks(n, block_rows):
        d = torch.addmm(sq[None, :], X64[r0:r1], X64.T, alpha=-2.0)
        d.add_(sq[r0:r1, None]).clamp_(min=0.0)
        S[r0:r1].copy_(d.neg_())
        S[r0:r1].diagonal(r0).zero_()
    return S


def median_similarity(S: torch.Tensor, *, symmetric: bool) -> float:
    """``numpy.median`` of all N^2 entries of ``S``, diagonal included (scikit-learn's default preference).

    With ``symmetric=True`` (a distance matrix: zero diagonal, entries <= 0) only the
    upper triangle is copied, half the memory: the full sorted multiset is each upper
    value twice followed by the N zeros of the diagonal.
    """
    n = S.shape[0]
    total = n * n
    ranks = [total // 2 - 1, total // 2] if total % 2 == 0 else [total // 2]
    if symmetric:
        upper = np.empty(n * (n - 1) // 2, dtype=np.float32)
        pos = 0
        for i in range(n - 1):
            row = S[i, i + 1 :].cpu().numpy()
            upper[pos : pos + row.size] = row
            pos += row.size
        in_upper = [r // 2 for r in ranks if r < upper.size * 2]
        if in_upper:
            upper.partition(sorted(set(in_upper)))
        values = [float(upper[r // 2]) if r < upper.size * 2 else 0.0 for r in ranks]
    else:
        flat = S.cpu().numpy().ravel().copy() if S.device.type == "cpu" else S.cpu().numpy().ravel()
        flat.partition(ranks)
        values = [float(flat[r]) for r in ranks]
    return float(np.mean(values))


def place_preference_and_noise(
    S: torch.Tensor,
    preference: float,
    random_state: np.random.RandomState | None,
    block_rows: int,
) -> torch.Tensor:
    """Put ``preference`` on the diagonal and add the tie-breaking noise, in place.

    Returns the diagonal's standard-normal draws (N,), so that another preference can
    be placed later (:func:`set_preference`) with exactly the noise it would have had.
    ``random_state=None`` skips the noise (for feeding an already noisy matrix).
    """
    n = S.shape[0]
    diag_noise = torch.zeros(n, dtype=torch.float32, device=S.device)
    work = torch.empty((min(block_rows, n), n), dtype=torch.float32, device=S.device)
    for r0, r1 in row_blocks(n, block_rows):
        block = S[r0:r1]
        block.diagonal(r0).fill_(preference)
        if random_state is None:
            continue
        noise = torch.from_numpy(random_state.standard_normal(size=(r1 - r0, n)).astype(np.float32))
        noise = noise.to(S.device)
        term = torch.mul(block, FLOAT32.eps, out=work[: r1 - r0]).add_(FLOAT32.tiny * 100).mul_(noise)
        block.add_(term)
        diag_noise[r0:r1] = noise.diagonal(r0)
    return diag_noise


def set_preference(S: torch.Tensor, preference: float, diag_noise: torch.Tensor) -> None:
    """Replace the diagonal by ``preference`` plus its noise, as :func:`place_preference_and_noise` would."""
    p = torch.full_like(diag_noise, preference)
    S.diagonal().copy_(p + (p * FLOAT32.eps + FLOAT32.tiny * 100) * diag_noise)
