"""Colour and brightness primitives of the pseudo-labels, batched in torch: HSV, top-hat, Otsu.

Why HSV (paper §3.1): objects are brighter than their surroundings (V), and in RGB
images a stain sets the hue while pale objects have low saturation (S), so a class can
be declared by a hue / saturation range (:mod:`.pseudo`). The local background (a well
disc, uneven illumination) is removed with a morphological top-hat before thresholding,
so that Otsu separates objects from background rather than the well from the plate.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cellxai_core.errors import DataError


def as_rgb(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, 3, H, W): RGB as is, two channels read as (R, G) with B = 0."""
    c = images.shape[1]
    if c == 3:
        return images
    if c == 2:
        return torch.cat([images, torch.zeros_like(images[:, :1])], dim=1)
    raise DataError(f"hue / saturation object classes need RGB (3 channels) or (R, G) images; got {c} channel(s)")


def rgb_to_hsv(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N, 3, H, W) in [0, 1] -> hue in degrees [0, 360), saturation and value, each (N, H, W)."""
    rgb = rgb.clamp(0, 1)
    r, g, b = rgb.unbind(dim=1)
    value, argmax = rgb.max(dim=1)
    minimum = rgb.min(dim=1).values
    delta = value - minimum
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    hue = torch.where(
        argmax == 0, ((g - b) / safe) % 6, torch.where(argmax == 1, (b - r) / safe + 2, (r - g) / safe + 4)
    )
    hue = torch.where(delta > 0, hue * 60.0, torch.zeros_like(hue)) % 360.0
    saturation = torch.where(value > 0, delta / torch.where(value > 0, value, torch.ones_like(value)), torch.zeros_like(value))
    return hue, saturation, value


def _window_max(x: torch.Tensor, radius: int, dim: int) -> torch.Tensor:
    """Max over a centred window of 2r+1 along ``dim`` by doubling (a few vectorised maxima)."""
    k = 2 * radius + 1
    length = x.shape[dim]
    pad = [0, 0] * (x.ndim - 1 - dim % x.ndim) + [radius, radius]
    y = F.pad(x, pad, value=float("-inf"))
    width = 1
    while width * 2 <= k:  # y[j] = max of ``width`` consecutive values starting at j
        y = torch.maximum(y.narrow(dim, 0, y.shape[dim] - width), y.narrow(dim, width, y.shape[dim] - width))
        width *= 2
    return torch.maximum(y.narrow(dim, 0, length), y.narrow(dim, k - width, length))


def square_max(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Max over a (2r+1)² square: two separable 1-D passes."""
    return _window_max(_window_max(x, radius, -1), radius, -2)


def top_hat(value: torch.Tensor, radius: int) -> torch.Tensor:
    """White top-hat of (N, H, W): value minus its grey opening with a (2r+1)² square."""
    x = value.unsqueeze(1)
    opened = square_max(-square_max(-x, radius), radius)
    return (x - opened).squeeze(1).clamp_min(0)


def otsu_thresholds(values: torch.Tensor, bins: int = 256) -> torch.Tensor:
    """Otsu's threshold of each row of (N, P) values in [0, 1] -> (N,), vectorised over rows."""
    n = values.shape[0]
    idx = (values.clamp(0, 1) * (bins - 1)).round().long()
    hist = torch.zeros(n, bins, device=values.device, dtype=torch.float64)
    hist.scatter_add_(1, idx, torch.ones_like(idx, dtype=torch.float64))
    p = hist / hist.sum(dim=1, keepdim=True)
    centers = torch.arange(bins, device=values.device, dtype=torch.float64) / (bins - 1)
    w0 = p.cumsum(dim=1)
    mu = (p * centers).cumsum(dim=1)
    mu_t = mu[:, -1:]
    between = (mu_t * w0 - mu) ** 2 / (w0 * (1 - w0)).clamp_min(1e-12)
    between[(w0 <= 0) | (w0 >= 1)] = -1
    best = between.argmax(dim=1)
    # threshold between bin ``best`` and the next one: pixels above it are foreground
    return ((best.to(torch.float64) + 0.5) / (bins - 1)).to(values.dtype)
