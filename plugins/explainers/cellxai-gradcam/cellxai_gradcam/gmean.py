"""Weighted geometric means as running log-sums, and the patch-wise Pearson correlation image.

Multi-attention paper §3.3, eq. 14-16: Gmean(X, W) = exp(sum_i w_i ln x_i / sum_i w_i);
pixels that are exactly 0 would make the mean 0 wherever one image is dark, so
``epsilon`` is added before the log and subtracted after:
Gmean_eps = exp(sum_i w_i ln(x_i + eps) / sum_i w_i) - eps, which is exact (= x) for
identical images. The correlation image is Pearson's r between the two images over the
(2r+1)^2 patch around each pixel (patches are cut at the border).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

FLAT_RELATIVE_VARIANCE = 1e-10  # a patch whose variance is below this fraction of its mean square is flat


class GeometricMeanAccumulator:
    """Per-group running sums of w * ln(x + eps) and of w; memory is (groups, *shape), independent of N."""

    def __init__(self, n_groups: int, shape: tuple[int, ...], epsilon: float, device: torch.device | str = "cpu") -> None:
        dtype = torch.float64 if torch.device(device).type != "mps" else torch.float32
        self.epsilon = float(epsilon)
        self.log_sum = torch.zeros((n_groups, *shape), dtype=dtype, device=device)
        self.weight = torch.zeros(n_groups, dtype=dtype, device=device)
        self.count = torch.zeros(n_groups, dtype=torch.long, device=device)

    def add(self, values: torch.Tensor, groups: torch.Tensor, weights: torch.Tensor | None = None) -> None:
        """Add (B, *shape) non-negative values of groups (B,) with weights (B,) (default 1)."""
        values = values.to(self.log_sum.dtype)
        w = torch.ones(len(values), dtype=values.dtype, device=values.device) if weights is None else weights.to(values.dtype)
        logs = torch.log(values.clamp_min(0) + self.epsilon) * w.reshape(-1, *([1] * (values.ndim - 1)))
        self.log_sum.index_add_(0, groups, logs)
        self.weight.index_add_(0, groups, w)
        self.count.index_add_(0, groups, torch.ones_like(groups))

    def add_sums(self, log_sum: Any, weight: Any, count: Any) -> None:
        """Add another accumulator's sums (a chunk's, computed elsewhere): (groups, *shape), (groups,), (groups,)."""
        self.log_sum += torch.as_tensor(log_sum, device=self.log_sum.device).to(self.log_sum.dtype)
        self.weight += torch.as_tensor(weight, device=self.weight.device).to(self.weight.dtype)
        self.count += torch.as_tensor(count, device=self.count.device).to(self.count.dtype)

    def result(self) -> torch.Tensor:
        """(groups, *shape) geometric means, clamped at 0; groups with no weight are 0."""
        w = self.weight.reshape(-1, *([1] * (self.log_sum.ndim - 1)))
        mean = torch.exp(self.log_sum / w.clamp_min(torch.finfo(w.dtype).tiny)) - self.epsilon
        return torch.where(w > 0, mean.clamp_min(0), torch.zeros_like(mean))


def patch_correlation(a: torch.Tensor, b: torch.Tensor, radius: int = 2) -> torch.Tensor:
    """Pearson r of ``a`` and ``b`` over the (2r+1)^2 patch around every pixel. (..., H, W) -> (..., H, W).

    Box filters give the local means, so the whole image costs a few pooling passes.
    A patch where either image is flat has no correlation: it is 0, not NaN.
    """
    if a.shape != b.shape:
        raise ValueError(f"patch_correlation: shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    shape = a.shape
    dtype = torch.float64 if a.device.type != "mps" else torch.float32
    x = a.reshape(-1, 1, *shape[-2:]).to(dtype)
    y = b.reshape(-1, 1, *shape[-2:]).to(dtype)

    def box(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)

    mx, my = box(x), box(y)
    mxx, myy = box(x * x), box(y * y)
    var_x, var_y = (mxx - mx * mx).clamp_min(0), (myy - my * my).clamp_min(0)
    cov = box(x * y) - mx * my
    varied = (var_x > FLAT_RELATIVE_VARIANCE * mxx) & (var_y > FLAT_RELATIVE_VARIANCE * myy)
    rho = torch.where(varied, cov / torch.sqrt(var_x * var_y).clamp_min(torch.finfo(dtype).tiny), torch.zeros_like(cov))
    return rho.clamp(-1, 1).reshape(shape).float()


def correlation_ratios(rho: torch.Tensor, threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Fractions of pixels with r > threshold and r < -threshold over the last two axes."""
    return (rho > threshold).float().mean(dim=(-2, -1)), (rho < -threshold).float().mean(dim=(-2, -1))
