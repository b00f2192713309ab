"""Faithfulness metrics of saliency maps, in torch on the model's device.

- Deletion (Petsiuk et al. 2018): delete the most salient pixels first and follow the
  softmax probability of the explained target; a faithful map makes it fall faster
  (lower area under the curve) than a random map of the same shape.
- Energy-based pointing game (Wang et al. 2020, Score-CAM): the fraction of a map's
  energy inside the annotated objects, next to the objects' area fraction (what a
  uniform map would score).
- Model randomisation (Adebayo et al. 2018): maps of a model whose weights were
  re-initialised, top to bottom, must differ from the trained model's maps.
"""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

BLUR_SIGMA_FRACTION = 0.1  # sigma of the deletion baseline's Gaussian blur, as a fraction of the image side


def blurred(images: torch.Tensor) -> torch.Tensor:
    """Gaussian blur of (..., C, H, W) images with sigma = 10% of the longer side."""
    from torchvision.transforms.functional import gaussian_blur

    height, width = images.shape[-2:]
    sigma = BLUR_SIGMA_FRACTION * max(height, width)
    size = min(2 * math.ceil(3 * sigma) + 1, 2 * ((min(height, width) - 1) // 2) + 1)
    flat = images.reshape(-1, *images.shape[-3:])
    return gaussian_blur(flat, [size, size], [sigma, sigma]).reshape(images.shape)


def pixel_ranks(maps: torch.Tensor, tie_seed: int | None = 0) -> torch.Tensor:
    """Rank of each pixel within its image, 0 = most salient. (..., H, W) -> same shape.

    Tied pixels (the zeros of a ReLU'd map, all of an empty one) carry no ranking, so they
    come in a random order, the same for every call (``tie_seed``). In pixel order an empty
    map's deletion removed the image's top rows as one block, which hurts any model more than
    scattered pixels: on the real nuclei, deletion "beat" random maps through the empty maps.
    ``tie_seed=None``: pixel order, as a stable ``argsort`` keeps it.
    """
    flat = maps.reshape(-1, maps.shape[-2] * maps.shape[-1]).float()
    if tie_seed is None:
        order = torch.argsort(flat, dim=1, descending=True, stable=True)
    else:
        shuffle = torch.rand(flat.shape, generator=torch.Generator().manual_seed(tie_seed)).argsort(dim=1).to(flat.device)
        order = shuffle.gather(1, torch.argsort(flat.gather(1, shuffle), dim=1, descending=True, stable=True))
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(flat.shape[1], device=flat.device).expand_as(order))
    return ranks.reshape(maps.shape)


@torch.no_grad()
def deletion_curves(
    model: nn.Module,
    images: torch.Tensor,
    maps: torch.Tensor,
    targets: torch.Tensor,
    *,
    steps: int = 20,
    baseline: str = "zero",
    forward_kwargs: Mapping[str, Any] | Callable[[torch.Tensor], Mapping[str, Any]] | None = None,
) -> torch.Tensor:
    """Target probability while the top k/steps of every image's pixels are deleted, k = 0..steps.

    :param images: (B, S, C, H, W) or (B, C, H, W); ``maps`` the matching (B, S, H, W) / (B, H, W).
    :param baseline: ``zero`` (deleted pixels become 0) or ``blur`` (they take the image's blurred value).
    :param forward_kwargs: extra forward arguments, or a function of the perturbed images
        returning them (side features recomputed from what is left of the images).
    :returns: (B, steps + 1) softmax probabilities of ``targets``.
    """
    return perturbation_curves(model, images, maps, targets, steps, baseline, forward_kwargs, insert=False)


def perturbation_curves(
    model: nn.Module, images: torch.Tensor, maps: torch.Tensor, targets: torch.Tensor, steps: int, baseline: str,
    forward_kwargs: Mapping[str, Any] | Callable[[torch.Tensor], Mapping[str, Any]] | None, *, insert: bool,
) -> torch.Tensor:
    """Deletion (the top k/steps pixels take the baseline) or insertion (only they keep the image) curves."""
    fill = blurred(images) if baseline == "blur" else torch.zeros_like(images)
    ranks = pixel_ranks(maps).unsqueeze(-3)  # broadcast over channels
    n_pixels = maps.shape[-2] * maps.shape[-1]
    rows = torch.arange(images.shape[0], device=images.device)
    curve = []
    for k in range(steps + 1):
        top = ranks < round(k / steps * n_pixels)
        x = torch.where(top, images, fill) if insert else torch.where(top, fill, images)
        kwargs = forward_kwargs(x) if callable(forward_kwargs) else (forward_kwargs or {})
        curve.append(torch.softmax(model(x, **kwargs).float(), dim=1)[rows, targets])
    return torch.stack(curve, dim=1)


def curve_auc(curves: torch.Tensor) -> torch.Tensor:
    """Trapezoidal area under (B, steps + 1) curves sampled at fractions 0 .. 1."""
    return torch.trapezoid(curves, dx=1.0 / (curves.shape[1] - 1), dim=1)


def energy_inside(maps: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Energy fraction of each map inside ``masks > 0``, and the masks' area fraction (both over the last 2 axes).

    Maps with no energy at all give NaN (they point nowhere).
    """
    inside = (masks > 0).to(maps.dtype)
    total = maps.sum(dim=(-2, -1))
    energy = (maps * inside).sum(dim=(-2, -1)) / total
    energy = torch.where(total > 0, energy, torch.full_like(energy, float("nan")))
    return energy, inside.mean(dim=(-2, -1))


def spearman_per_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rho between reference maps ``a`` and matching maps ``b`` of (..., H, W) arrays. NaN where the
    reference is constant (an empty map has no ranking to compare: counting it as rho 0 would let empty maps pass
    the randomisation check); 0 where only ``b`` is constant (its ranking shares nothing with the reference's)."""
    a2 = a.reshape(-1, a.shape[-2] * a.shape[-1])
    b2 = b.reshape(-1, b.shape[-2] * b.shape[-1])
    from scipy.stats import spearmanr

    out = np.full(len(a2), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, (x, y) in enumerate(zip(a2, b2)):
            if np.ptp(x) > 0:
                out[i] = spearmanr(x, y).statistic if np.ptp(y) > 0 else 0.0
    return out.reshape(a.shape[:-2])


def randomize_(module: nn.Module, seed: int) -> nn.Module:
    """Re-initialise every parameter of ``module`` in place, reproducibly.

    Modules with ``reset_parameters`` (conv, linear, norm, attention) get their default
    initialisation; any other parameter has its entries randomly permuted.
    """
    devices = sorted({p.device.index or 0 for p in module.parameters() if p.device.type == "cuda"})
    covered: set[int] = set()
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        for sub in module.modules():
            reset = getattr(sub, "reset_parameters", None) or getattr(sub, "_reset_parameters", None)
            if callable(reset):
                reset()
                covered.update(id(p) for p in sub.parameters())
        for p in module.parameters():
            if id(p) not in covered:
                flat = p.reshape(-1)
                p.copy_(flat[torch.randperm(flat.numel(), device=p.device)].reshape(p.shape))
    return module


def cascading_randomizations(model: nn.Module, parts: Sequence[str], seed: int) -> list[tuple[str, nn.Module]]:
    """Copies of ``model`` with ``parts[0]``, then ``parts[:2]``, ... re-initialised (top of the model first).

    Parts that are missing or have no parameters are skipped.
    """
    out: list[tuple[str, nn.Module]] = []
    randomized: list[str] = []
    previous = model
    for i, part in enumerate(parts):
        sub = getattr(previous, part, None)
        if not isinstance(sub, nn.Module) or not any(True for _ in sub.parameters()):
            continue
        current = copy.deepcopy(previous)
        randomize_(getattr(current, part), seed + i)
        randomized.append(part)
        out.append(("+".join(randomized), current))
        previous = current
    return out
