"""ROAD, RemOve And Debias (Rong et al. 2022), defined as Quantus 0.6's ``ROAD`` (checked in tests/test_quantus.py).

Removed pixels are not set to a constant (which the model may read as a shape: the "class
information leak" of Rong et al.) but filled by *noisy linear imputation*: each removed
pixel takes the weighted mean of its 8 neighbours (1/6 edge, 1/12 corner neighbours, only
those inside the image), all removed pixels solved together as one sparse linear system
(``scipy.sparse.linalg.spsolve``), plus Gaussian noise of std ``noise``.

- MoRF: remove the p % most relevant pixels; a faithful map makes the prediction fall fast
  (lower curve than a random map's).
- LeRF: remove the p % least relevant pixels; the prediction should survive (higher curve).

Quantus scores whether the prediction is still the target (``kept``); we also keep the
target's softmax probability (``prob``), the graded version used by the verdicts. A pixel
is removed in every channel (Quantus, which flattens channels, is defined for one channel).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from scipy import sparse
from scipy.sparse.linalg import spsolve
from torch import nn

from .faithfulness import pixel_ranks

# (dy, dx) -> weight of the neighbour in the imputation (Quantus' ``noisy_linear_imputation``)
NEIGHBOURS = {(1, 1): 1 / 12, (0, 1): 1 / 6, (-1, 1): 1 / 12, (1, -1): 1 / 12,
              (0, -1): 1 / 6, (-1, -1): 1 / 12, (1, 0): 1 / 6, (-1, 0): 1 / 6}
DEFAULT_PERCENTAGES = (10.0, 30.0, 50.0)
Rng = np.random.Generator | np.random.RandomState


@lru_cache(maxsize=8)
def neighbour_weights(height: int, width: int) -> sparse.csr_matrix:
    """(H*W, H*W) sparse weights of each pixel's neighbours inside the image (row = pixel, column = neighbour)."""
    index = np.arange(height * width).reshape(height, width)
    rows, cols, values = [], [], []
    for (dy, dx), weight in NEIGHBOURS.items():
        src = index[max(0, -dy):height - max(0, dy), max(0, -dx):width - max(0, dx)]
        dst = index[max(0, dy):height + min(0, dy), max(0, dx):width + min(0, dx)]
        rows.append(src.ravel())
        cols.append(dst.ravel())
        values.append(np.full(src.size, weight))
    n = height * width
    return sparse.csr_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


def impute(image: np.ndarray, removed: np.ndarray, noise: float, rng: Rng | None) -> np.ndarray:
    """Noisy linear imputation of one (C, H, W) image at the flat pixel indices ``removed`` (in that order).

    Solves ``deg_i x_i - sum_{j removed} w_ij x_j = sum_{j kept} w_ij v_j`` for every removed
    pixel i (``deg_i`` = the weights of its neighbours inside the image), then adds
    ``noise * standard_normal((C, len(removed)))`` drawn from ``rng`` (the order Quantus draws in).
    """
    channels, height, width = image.shape
    flat = image.reshape(channels, -1).astype(np.float64)
    removed = np.asarray(removed, dtype=np.int64)
    if removed.size == 0:
        return image.copy()
    if removed.size >= height * width:
        raise ValueError("impute: at least one pixel must be kept (nothing to impute from)")
    weights = neighbour_weights(height, width)
    kept = np.ones(height * width, dtype=bool)
    kept[removed] = False
    rows = weights[removed]
    degree = np.asarray(rows.sum(axis=1)).ravel()
    system = (sparse.diags(degree) - rows[:, removed]).tocsc()
    rhs = rows[:, np.flatnonzero(kept)] @ flat[:, kept].T
    solution = np.asarray(spsolve(system, rhs)).reshape(len(removed), channels).T
    if noise and rng is not None:
        solution = solution + noise * rng.standard_normal(solution.shape)
    out = flat.copy()
    out[:, removed] = solution
    return out.reshape(image.shape).astype(image.dtype)


def _orders(maps: torch.Tensor, lerf: bool) -> np.ndarray:
    """Flat pixel indices of every map (N, H*W), most relevant first (MoRF) or least relevant first (LeRF)."""
    ranks = pixel_ranks(-maps if lerf else maps).reshape(-1, maps.shape[-2] * maps.shape[-1])
    return torch.argsort(ranks, dim=1).cpu().numpy()


@torch.no_grad()
def road_curves(
    model: nn.Module,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets: torch.Tensor,
    rngs: Sequence[Rng | None],
    *,
    percentages: Sequence[float] = DEFAULT_PERCENTAGES,
    lerf: bool = False,
    noise: float = 0.01,
    forward_kwargs: Mapping[str, Any] | Callable[[torch.Tensor], Mapping[str, Any]] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """ROAD curves: the target's softmax probability and whether it is still the top class, per percentage.

    :param images: (B, C, H, W) or (B, S, C, H, W); ``maps`` (B, H, W) / (B, S, H, W).
    :param rngs: one random generator per sample (B) for the imputation noise; for each
        percentage, sample b draws ``(S, C, k)`` normals from ``rngs[b]``. Passing one
        ``RandomState`` B times draws in Quantus' order (percentage, then sample).
    :param lerf: remove the least relevant pixels first instead of the most relevant.
    :returns: ``prob`` and ``kept`` (B, len(percentages)).
    """
    if len(rngs) != images.shape[0]:
        raise ValueError(f"road_curves: {len(rngs)} random generators for {images.shape[0]} samples")
    height, width = images.shape[-2:]
    host = images.detach().cpu().numpy().reshape(images.shape[0], -1, *images.shape[-3:])
    order = _orders(maps, lerf).reshape(host.shape[0], host.shape[1], -1)
    rows = torch.arange(images.shape[0], device=images.device)
    probs, kept = [], []
    for p in percentages:
        k = int(height * width * p / 100)
        x = np.stack([np.stack([impute(img, order[b, s, :k], noise, rngs[b]) for s, img in enumerate(sample)])
                      for b, sample in enumerate(host)])
        x_t = torch.from_numpy(x.reshape(images.shape)).to(images.device)
        kwargs = forward_kwargs(x_t) if callable(forward_kwargs) else (forward_kwargs or {})
        scores = model(x_t, **kwargs).float()
        probs.append(torch.softmax(scores, dim=1)[rows, targets])
        kept.append(scores.argmax(dim=1) == targets)
    return torch.stack(probs, dim=1), torch.stack(kept, dim=1)
