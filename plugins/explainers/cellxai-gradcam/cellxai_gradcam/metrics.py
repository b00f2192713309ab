"""Attribution metrics beside deletion, defined as Quantus 0.6 defines them (checked in tests/test_quantus.py).

- insertion: the deletion curve run backwards: start from the baseline (all pixels deleted)
  and put back the most salient pixels first; a faithful map makes the score rise fast
  (Petsiuk et al. 2018). Quantus has no insertion metric; its ``PixelFlipping`` on the
  baseline image with a perturbation that restores the original values is the same curve.
- relevance rank accuracy (Arras et al. 2022, Quantus ``RelevanceRankAccuracy``): of the
  |mask| most salient pixels, the fraction inside the mask. A random map scores the mask's
  area fraction.
- relevance mass accuracy (``RelevanceMassAccuracy``): the map's mass inside the mask,
  :func:`~cellxai_gradcam.faithfulness.energy_inside`.
- sparseness (Chalasani et al. 2020, ``Sparseness``): the Gini index of the map (with
  Quantus' 1e-7 added to every pixel); 0 = uniform, 1 = one pixel. A uniform random map
  scores about 1/3.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch
from torch import nn

from .faithfulness import perturbation_curves, pixel_ranks

GINI_OFFSET = 1e-7  # Quantus' Sparseness adds it before sorting


@torch.no_grad()
def insertion_curves(
    model: nn.Module,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets: torch.Tensor,
    *,
    steps: int = 20,
    baseline: str = "zero",
    forward_kwargs: Mapping[str, Any] | Callable[[torch.Tensor], Mapping[str, Any]] | None = None,
) -> torch.Tensor:
    """Target probability while the top k/steps of every image's pixels are put back on the baseline, k = 0..steps.

    Same arguments as :func:`~cellxai_gradcam.faithfulness.deletion_curves`; (B, steps + 1).
    """
    return perturbation_curves(model, images, maps, targets, steps, baseline, forward_kwargs, insert=True)


def rank_accuracy(maps: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Fraction of the |mask| most salient pixels of each map that lie inside ``masks > 0``; NaN for an empty mask."""
    inside = (masks > 0).reshape(-1, maps.shape[-2] * maps.shape[-1])
    size = inside.sum(dim=1)
    ranks = pixel_ranks(maps).reshape(inside.shape)
    hits = (inside & (ranks < size[:, None])).sum(dim=1).float()
    out = torch.where(size > 0, hits / size.clamp_min(1), torch.full_like(hits, float("nan")))
    return out.reshape(maps.shape[:-2])


def sparseness(maps: torch.Tensor) -> torch.Tensor:
    """Gini index of each map over its pixels (Quantus ``Sparseness``), (..., H, W) -> (...)."""
    flat = maps.reshape(-1, maps.shape[-2] * maps.shape[-1]).double() + GINI_OFFSET
    a, _ = torch.sort(flat, dim=1)
    n = a.shape[1]
    i = torch.arange(1, n + 1, dtype=a.dtype, device=a.device)
    gini = ((2 * i - n - 1) * a).sum(dim=1) / (n * a.sum(dim=1))
    return gini.float().reshape(maps.shape[:-2])
