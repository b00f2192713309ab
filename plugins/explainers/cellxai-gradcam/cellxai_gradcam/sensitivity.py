"""Average sensitivity (Yeh et al. 2019), defined as Quantus 0.6's ``AvgSensitivity`` (checked in tests/test_quantus.py).

Each input gets uniform noise in [-radius, radius] on every value, is explained again, and
the relative change of the map, ``||a - a'||_F / ||a||_F``, is averaged over ``n_samples``
draws. A robust explanation changes little under a change of the input the eye cannot see.

The reference it is compared with (:func:`other_sample_distance`): the relative distance
of the map to the map of another sample of the batch, ``||a_i - a_j||_F / ||a_i||_F``; an
explanation whose maps move as much under the noise as between two different samples
says nothing about its input.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

Rng = np.random.Generator | np.random.RandomState
DEFAULT_RADIUS = 0.02  # of the image intensities (microscopy images here are in [0, 1])


def _norms(a: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(a.reshape(a.shape[0], -1).double(), dim=1)


def avg_sensitivity(
    explain: Callable[[torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    maps: torch.Tensor,
    rngs: Sequence[Rng],
    *,
    n_samples: int = 4,
    radius: float = DEFAULT_RADIUS,
) -> torch.Tensor:
    """Mean relative change of each sample's maps under uniform input noise; (B,), NaN for an empty map.

    :param explain: perturbed images (same shape as ``images``) -> their maps (shape of ``maps``).
    :param images: (B, ...) inputs; ``maps`` (B, ...) their maps (all of a sample's maps form one vector).
    :param rngs: one generator per sample; each draw, sample b takes ``uniform(-radius, radius,
        images[b].size)`` from ``rngs[b]``. One ``RandomState`` passed B times draws in Quantus' order.
    """
    if len(rngs) != images.shape[0]:
        raise ValueError(f"avg_sensitivity: {len(rngs)} random generators for {images.shape[0]} samples")
    size = int(np.prod(images.shape[1:]))
    reference = _norms(maps)
    total = torch.zeros(images.shape[0], dtype=torch.float64, device=maps.device)
    for _ in range(n_samples):
        noise = np.stack([rng.uniform(-radius, radius, size) for rng in rngs]).reshape(images.shape)
        perturbed = images + torch.from_numpy(noise).to(images.device, images.dtype)
        total += _norms(maps - explain(perturbed).to(maps.dtype)) / reference
    out = total / n_samples
    return torch.where(reference > 0, out, torch.full_like(out, float("nan"))).float()


def other_sample_distance(maps: torch.Tensor) -> torch.Tensor:
    """``||a_i - a_{i+1}||_F / ||a_i||_F`` with the next sample of the batch (cyclic); NaN for a batch of one or an empty map."""
    if maps.shape[0] < 2:
        return torch.full((maps.shape[0],), float("nan"), device=maps.device)
    reference = _norms(maps)
    out = _norms(maps - torch.roll(maps, -1, dims=0)) / reference
    return torch.where(reference > 0, out, torch.full_like(out, float("nan"))).float()
