"""The ``temporal-attention`` fusion: one vector per well from its ordered days.

Each day's token (standardised encoder features, plus the standardised human-designed
features) is projected to ``dim`` and given a day encoding; multi-head self-attention
lets every day see the others; the attended days are concatenated in order and
projected to the fused vector, so the ORDER of the trajectory is in the feature (a
sum over days would not tell "cancer 30 -> 10" from "10 -> 30").

The fusion is trained on frozen tokens to predict, from the fused vector alone, the
per-day densities and per-well trends measured by the human-designed features
(pseudo-labels, no truth): these linear heads are the auxiliary models the text
explanation reads. Everything learnt in ``fit`` (standardisation included) lives in
buffers, so the saved state dict rebuilds the fusion exactly.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from .fusion_roles import SideRoles, side_roles
from .hsv import CELL_TYPES


def sinusoidal_days(set_size: int, dim: int) -> torch.Tensor:
    """(S, dim) fixed sinusoidal encoding of day index 0..S-1 (Vaswani et al.)."""
    pos = torch.arange(set_size, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    enc = torch.zeros(set_size, dim)
    enc[:, 0::2] = torch.sin(pos * freq)
    enc[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return enc


class TemporalAttentionFusion(nn.Module):
    """tokens (B, S, D) [+ side (B, S, F)] -> fused (B, out_dim); attention (B, heads, S, S)."""

    auxiliary_names = {"density": list(CELL_TYPES), "trend": list(CELL_TYPES)}

    def __init__(
        self, *, token_dim: int, side_dim: int = 0, set_size: int = 1, heads: int = 4, dim: int = 32,
        out_dim: int = 16, positional: str = "sinusoidal", use_handcrafted: bool = True, use_trend: bool = True,
        temporal: bool = True, epochs: int = 300, lr: float = 3e-3, weight_decay: float = 1e-4,
        batch_size: int = 256, seed: int = 0,
    ) -> None:
        super().__init__()
        self.token_dim, self.side_dim, self.set_size = token_dim, side_dim, set_size
        self.heads, self.dim, self.out_dim = heads, dim, out_dim
        self.positional, self.temporal = positional, temporal
        self.use_handcrafted, self.use_trend = use_handcrafted and side_dim > 0, use_trend
        self.training_settings = dict(epochs=epochs, lr=lr, weight_decay=weight_decay, batch_size=batch_size, seed=seed)
        n_density = len(CELL_TYPES)
        # learnt in fit(): standardisation and which side columns are inputs / targets
        self.register_buffer("token_mean", torch.zeros(token_dim))
        self.register_buffer("token_std", torch.ones(token_dim))
        self.register_buffer("side_mean", torch.zeros(side_dim))
        self.register_buffer("side_std", torch.ones(side_dim))
        self.register_buffer("side_input", torch.zeros(side_dim))  # 1 = fed to the model
        self.register_buffer("density_index", torch.full((n_density,), -1, dtype=torch.long))
        self.register_buffer("trend_index", torch.full((n_density,), -1, dtype=torch.long))
        self.register_buffer("fused_scale", torch.ones(()))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.token_proj = nn.Linear(token_dim, dim)
            self.side_proj = nn.Linear(side_dim, dim, bias=False) if self.use_handcrafted else None
            if positional == "learned":
                self.day_embedding = nn.Parameter(torch.randn(set_size, dim) * 0.02)
            else:
                self.register_buffer("day_embedding", sinusoidal_days(set_size, dim) * (positional == "sinusoidal"))
            if temporal:
                self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
                self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
                self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
                self.to_fused = nn.Linear(set_size * dim, out_dim)
            else:
                self.to_fused = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, out_dim))
            self.density_head = nn.Linear(out_dim, set_size * n_density)
            self.trend_head = nn.Linear(out_dim, n_density)
        self.attention: torch.Tensor | None = None

    # -- forward ----------------------------------------------------------------------
    def _days(self, tokens: torch.Tensor, side: torch.Tensor | None) -> torch.Tensor:
        """(B, S, dim) per-day inputs: standardised tokens (+ side features) projected."""
        x = self.token_proj((tokens - self.token_mean) / self.token_std)
        if self.side_proj is not None and side is not None:
            x = x + self.side_proj((side - self.side_mean) / self.side_std * self.side_input)
        return x

    def embed(self, tokens: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        """The unscaled fused vector (B, out_dim); sets ``attention``."""
        x = self._days(tokens.float(), None if side is None else side.float())
        if not self.temporal:
            self.attention = None
            return self.to_fused(x.mean(dim=1))
        x = x + self.day_embedding
        h = self.norm1(x)
        attended, weights = self.attn(h, h, h, need_weights=True, average_attn_weights=False)
        self.attention = weights.detach()
        x = x + attended
        x = x + self.ffn(self.norm2(x))
        return self.to_fused(x.flatten(1))

    def forward(self, tokens: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        return self.embed(tokens, side) * self.fused_scale

    # -- auxiliary heads ----------------------------------------------------------------
    def _heads(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised density (B, S, 3) and trend (B, 3) predictions from the fused vector."""
        return self.density_head(z).reshape(len(z), self.set_size, -1), self.trend_head(z)

    def auxiliary(self, tokens: torch.Tensor, side: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Predicted per-day densities (area fractions) and per-well trends (change per day)."""
        if int(self.density_index[0]) < 0:
            return {}
        density, trend = self._heads(self.embed(tokens, side))
        d_idx = self.density_index
        density = density * self.side_std[d_idx] + self.side_mean[d_idx]
        if int(self.trend_index[0]) >= 0 and self.use_trend:
            t_idx = self.trend_index
            trend = trend * self.side_std[t_idx] + self.side_mean[t_idx]
        else:  # no trend head trained: the least-squares slope of the predicted densities
            t = torch.arange(self.set_size, dtype=density.dtype, device=density.device)
            t = (t - t.mean())[None, :, None]
            trend = (t * density).sum(dim=1) / (t**2).sum().clamp_min(1e-12)
        return {"density": density, "trend": trend}

    # -- training -----------------------------------------------------------------------
    def fit(self, tokens: np.ndarray, side: np.ndarray | None, ctx: Any = None) -> dict[str, float]:
        from .fusion_training import fit_fusion

        roles = side_roles(ctx, self.side_dim)
        return fit_fusion(self, tokens, side, roles, ctx)

    def set_roles(self, roles: SideRoles) -> None:
        """Record which side columns are inputs and which are density / trend targets."""
        inputs = torch.zeros(self.side_dim)
        inputs[list(roles.inputs(self.use_trend))] = 1.0
        self.side_input.copy_(inputs)
        if roles.density:
            self.density_index.copy_(torch.tensor(roles.density))
        if roles.trend:
            self.trend_index.copy_(torch.tensor(roles.trend))
