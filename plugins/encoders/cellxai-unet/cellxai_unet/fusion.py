"""The ``temporal-attention`` fusion: one vector per well from its ordered days.

Each day's token (standardised encoder features, plus the standardised human-designed
features) is projected to ``dim`` and given a day encoding; multi-head self-attention
lets every day see the others; the attended days are concatenated in order into a
latent vector, so the ORDER of the trajectory is kept (a sum over days would not tell
"cancer 30 -> 10" from "10 -> 30"). Linear heads on the latent predict each day's
density and each well's trend of every object class: the auxiliary models the text
explanation reads, trained on the human-designed features (pseudo-labels, no truth), one
per object class the encoder measured (their names come with ``side_names``).

The fused vector (the clustering feature) is made of those predictions, so that every
coordinate means something. By default (``vector: noise_units``) every coordinate is in units
of its own noise, both estimated from the data: each object class's predicted trend in standard
errors of a slope caused by day-to-day noise, then the trajectory shape below at weight 1. No
constant is tuned to a generator; the number of clusters is chosen by the clusterer (Affinity
Propagation's silhouette sweep). ``vector: states`` keeps round 1's hand-thresholded vector:

- **trend states** (one per object class): ``tanh((trend / (threshold * SE))**3)``, where SE
  is the standard error of a well's slope caused by day-to-day noise. About 0 for a
  stable object class, -1 / +1 for a clearly decreasing / increasing one. Wells of one
  response change in the same directions at different speeds; saturating the speed
  makes them one compact group, which Affinity Propagation with the median preference
  needs to find the groups by itself (on linear trends it splits every group);
- **trajectory shape** (``shape_weight`` x each day's predicted density minus the well's
  mean, in units of the typical day-to-day deviation): the ordered course, for
  responses that rise and fall; kept small so that noise does not split groups.

The level (how many cells a well was seeded with) is deliberately left out: it is
predicted by the density head and reported by the text, but it is not a response.
Everything learnt in ``fit`` lives in buffers, so the saved state dict rebuilds it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from cellxai_core.errors import ConfigError

from .fusion_roles import SideRoles, side_roles


def sinusoidal_days(set_size: int, dim: int) -> torch.Tensor:
    """(S, dim) fixed sinusoidal encoding of day index 0..S-1 (Vaswani et al.)."""
    pos = torch.arange(set_size, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    enc = torch.zeros(set_size, dim)
    enc[:, 0::2] = torch.sin(pos * freq)
    enc[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return enc


def trend_states(trend: torch.Tensor, unit: torch.Tensor, threshold: float) -> torch.Tensor:
    """Soft decreasing / stable / increasing code in (-1, 1) of trends measured in ``unit``."""
    return torch.tanh((trend / (unit * threshold)) ** 3)


class TemporalAttentionFusion(nn.Module):
    """tokens (B, S, D) [+ side (B, S, F)] -> fused (B, out_dim); attention (B, heads, S, S)."""

    def __init__(
        self, *, token_dim: int, side_dim: int = 0, set_size: int = 1, side_names: list[str] | None = None, heads: int = 4, dim: int = 32,
        latent_dim: int = 32, positional: str = "sinusoidal", use_handcrafted: bool = True, use_trend: bool = True,
        temporal: bool = True, vector: str = "noise_units", changes: str = "auto", relative_floor: float = 0.1,
        trend_threshold: float = 4.0, shape_weight: float = 0.25, epochs: int = 300,
        lr: float = 3e-3, weight_decay: float = 1e-4, batch_size: int = 256, seed: int = 0,
    ) -> None:
        super().__init__()
        if set_size < 2 and temporal:  # one image per sample: no trajectory to fuse, a constant vector would be clustered
            raise ConfigError(
                f"fusion 'temporal-attention': the samples hold {set_size} image each; it needs at least 2 time points. "
                "For single images use fusion 'mean-pool' (or 'self-attention')"
            )
        self.side_names = list(side_names or [])
        self.roles = side_roles(None, side_dim, self.side_names)
        n_types = max(1, len(self.roles.objects))
        self.auxiliary_names = {"density": list(self.roles.objects), "trend": list(self.roles.objects)}
        self.token_dim, self.side_dim, self.set_size = token_dim, side_dim, set_size
        self.heads, self.dim, self.latent_dim = heads, dim, latent_dim
        self.positional, self.temporal = positional, temporal
        self.use_handcrafted, self.use_trend = use_handcrafted and side_dim > 0, use_trend
        self.vector, self.trend_threshold = vector, trend_threshold
        self.changes = changes if vector == "noise_units" else "absolute"
        self.relative_floor = relative_floor
        self.shape_weight = 1.0 if vector == "noise_units" else shape_weight
        self.training_settings = dict(epochs=epochs, lr=lr, weight_decay=weight_decay, batch_size=batch_size, seed=seed)
        self.out_dim = (n_types if use_trend else 0) + (set_size * n_types if self.shape_weight > 0 or not use_trend else 0)
        # learnt in fit(): standardisation, units, and which side columns are inputs / targets
        for name, size in (("token", token_dim), ("side", side_dim)):
            self.register_buffer(f"{name}_mean", torch.zeros(size))
            self.register_buffer(f"{name}_std", torch.ones(size))
        self.register_buffer("side_input", torch.zeros(side_dim))  # 1 = fed to the model
        self.register_buffer("density_index", torch.full((n_types,), -1, dtype=torch.long))
        self.register_buffer("trend_index", torch.full((n_types,), -1, dtype=torch.long))
        self.register_buffer("trend_unit", torch.ones(n_types))  # SE of a slope from day-to-day noise
        self.register_buffer("shape_unit", torch.ones(n_types))  # typical deviation of a day from its well mean
        self.register_buffer("level_floor", torch.zeros(n_types))  # changes: relative, added to each well's level
        self.register_buffer("relative_on", torch.tensor(float(self.changes == "relative")))  # auto: decided in fit
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
                self.to_latent = nn.Linear(set_size * dim, latent_dim)
            else:
                self.to_latent = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, latent_dim))
            self.density_head = nn.Linear(latent_dim, set_size * n_types)
            self.trend_head = nn.Linear(latent_dim, n_types)
        self.attention: torch.Tensor | None = None

    # -- latent -----------------------------------------------------------------------
    def _days(self, tokens: torch.Tensor, side: torch.Tensor | None) -> torch.Tensor:
        """(B, S, dim) per-day inputs: standardised tokens (+ chosen side features) projected."""
        x = self.token_proj((tokens.float() - self.token_mean) / self.token_std)
        if self.side_proj is not None and side is not None:
            x = x + self.side_proj((side.float() - self.side_mean) / self.side_std * self.side_input)
        return x

    def latent(self, tokens: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        """(B, latent_dim) from the ordered days (attention) or their mean (``temporal: false``)."""
        x = self._days(tokens, side)
        if not self.temporal:
            self.attention = None
            return self.to_latent(x.mean(dim=1))
        x = x + self.day_embedding
        h = self.norm1(x)
        attended, weights = self.attn(h, h, h, need_weights=True, average_attn_weights=False)
        self.attention = weights.detach()
        x = x + attended
        x = x + self.ffn(self.norm2(x))
        return self.to_latent(x.flatten(1))

    def heads_of(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised density (B, S, K) and trend (B, K) predictions from the latent (K object classes)."""
        return self.density_head(z).reshape(len(z), self.set_size, -1), self.trend_head(z)

    # -- outputs ----------------------------------------------------------------------
    def _physical(self, density: torch.Tensor, trend: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised predictions back in feature units (area fraction, change per day)."""
        d_idx = self.density_index.clamp_min(0)
        density = density * self.side_std[d_idx] + self.side_mean[d_idx]
        if self.use_trend and int(self.trend_index[0]) >= 0:
            t_idx = self.trend_index
            return density, trend * self.side_std[t_idx] + self.side_mean[t_idx]
        t = torch.arange(self.set_size, dtype=density.dtype, device=density.device)
        t = (t - t.mean())[None, :, None]  # no trend head: the least-squares slope of the densities
        return density, (t * density).sum(dim=1) / (t**2).sum().clamp_min(1e-12)

    def forward(self, tokens: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        """The fused vector: trend states, then the weighted trajectory shape (see module doc)."""
        density, trend = self._physical(*self.heads_of(self.latent(tokens, side)))
        if bool(self.relative_on):
            level = density.mean(dim=1) + self.level_floor
            density, trend = density / level[:, None], trend / level
        parts = []
        if self.use_trend and self.vector == "noise_units":
            parts.append(trend / self.trend_unit)
        elif self.use_trend:
            parts.append(trend_states(trend, self.trend_unit, self.trend_threshold))
        if self.shape_weight > 0 or not self.use_trend:
            shape = (density - density.mean(dim=1, keepdim=True)) / self.shape_unit
            parts.append(shape.flatten(1) * (self.shape_weight if self.use_trend else 1.0))
        return torch.cat(parts, dim=1)

    def auxiliary(self, tokens: torch.Tensor, side: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Predicted per-day densities (area fractions) and per-well trends (change per day)."""
        if int(self.density_index[0]) < 0:
            return {}
        density, trend = self._physical(*self.heads_of(self.latent(tokens, side)))
        return {"density": density, "trend": trend}

    # -- training -----------------------------------------------------------------------
    def fit(self, tokens: np.ndarray, side: np.ndarray | None, ctx: Any = None) -> dict[str, float]:
        """Train attention and heads on frozen tokens; see :mod:`cellxai_unet.fusion_training`."""
        from .fusion_training import fit_fusion

        return fit_fusion(self, tokens, side, side_roles(ctx, self.side_dim, self.side_names), ctx)

    def set_roles(self, roles: SideRoles) -> None:
        """Record which side columns are inputs and which are density / trend targets.

        Inputs are every column, minus the change / slope columns without ``use_trend``
        and without ``temporal`` (they are cross-day summaries: time fused by hand).
        """
        inputs = torch.zeros(self.side_dim)
        inputs[list(roles.inputs(self.use_trend and self.temporal))] = 1.0
        self.side_input.copy_(inputs)
        if roles.density:
            self.density_index.copy_(torch.tensor(roles.density))
        if roles.trend:
            self.trend_index.copy_(torch.tensor(roles.trend))
