"""Fusions of the multi-attention channel networks: tokens (B, S*L, D) -> (B, D').

The encoder gives L tokens per image (L = 1 when pooled, grid*grid when spatial), so a
sample of S images arrives as (B, S*L, D). Each attention output is averaged over its
query positions, the results are concatenated and passed through the MLP
(paper: 1024-512, ReLU, a dropout after each layer). Side features, when the run has
them, are averaged over the set and concatenated before the MLP.
"""

from __future__ import annotations

import torch
from torch import nn

from cellxai_core.errors import ConfigError


def build_mlp(in_dim: int, sizes: list[int], dropout: float) -> nn.Sequential:
    """Linear-ReLU-Dropout per hidden size."""
    layers: list[nn.Module] = []
    for size in sizes:
        layers += [nn.Linear(in_dim, size), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        in_dim = size
    return nn.Sequential(*layers)


def _check_heads(name: str, token_dim: int, heads: int) -> None:
    if token_dim % heads:
        raise ConfigError(
            f"fusion.params.heads: {name} needs heads to divide the token size {token_dim}, got {heads}; "
            "change heads or the encoder's embed_dim"
        )


def _with_side(h: torch.Tensor, side: torch.Tensor | None, side_dim: int) -> torch.Tensor:
    if not side_dim:
        return h
    if side is None:
        raise ValueError(f"this fusion was built for {side_dim} side features per image but got none")
    return torch.cat([h, side.mean(dim=1)], dim=-1)


class ChannelAttentionFusion(nn.Module):
    """RGB family: a ``heads``-head attention layer per pair (i, j) of set positions.

    dh(i, j) = MHA(Q = tokens of image i, K = V = tokens of image j). With ``pairs: upper``
    and S = 3 isolated channels these are the paper's six layers, in the order
    R/R, G/G, B/B, R/G, R/B, G/B (the self pairs, then the cross pairs i < j).
    ``attention`` holds the last weights (B, P, L, L), averaged over heads, P in ``pair_names`` order.
    """

    def __init__(
        self,
        token_dim: int,
        side_dim: int = 0,
        set_size: int = 3,
        heads: int = 2,
        mlp: list[int] = [1024, 512],  # noqa: B006 - pydantic passes a fresh list
        dropout: float = 0.3,
        pairs: str = "upper",
    ) -> None:
        super().__init__()
        _check_heads("channel-attention", token_dim, heads)
        s = set_size
        if pairs == "upper":
            self.pairs = [(i, i) for i in range(s)] + [(i, j) for i in range(s) for j in range(i + 1, s)]
        else:
            self.pairs = [(i, j) for i in range(s) for j in range(s)]
        self.pair_names = [f"{i}/{j}" for i, j in self.pairs]
        self.set_size, self.side_dim = s, side_dim
        self.layers = nn.ModuleList(nn.MultiheadAttention(token_dim, heads, batch_first=True) for _ in self.pairs)
        self.mlp = build_mlp(token_dim * len(self.pairs) + side_dim, mlp, dropout)
        self.out_dim = mlp[-1]
        self.attention: torch.Tensor | None = None

    def forward(self, tokens: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        b, n, d = tokens.shape
        if n % self.set_size:
            raise ConfigError(f"channel-attention was built for sets of {self.set_size} images, got {n} tokens per sample")
        per_image = tokens.reshape(b, self.set_size, n // self.set_size, d)
        outs, weights = [], []
        for (i, j), layer in zip(self.pairs, self.layers):
            out, w = layer(per_image[:, i], per_image[:, j], per_image[:, j], need_weights=True)
            outs.append(out.mean(dim=1))
            weights.append(w)
        self.attention = torch.stack(weights, dim=1).detach()
        return self.mlp(_with_side(torch.cat(outs, dim=-1), side, self.side_dim))


class SelfAttentionFusion(nn.Module):
    """MHL family: ``heads``-head self-attention over all tokens of a sample (Q = K = V).

    ``attention`` holds the last weights (B, S*L, S*L), averaged over heads.
    """

    def __init__(
        self,
        token_dim: int,
        side_dim: int = 0,
        set_size: int = 1,
        heads: int = 2,
        mlp: list[int] = [1024, 512],  # noqa: B006
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        _check_heads("self-attention", token_dim, heads)
        self.layer = nn.MultiheadAttention(token_dim, heads, batch_first=True)
        self.side_dim = side_dim
        self.mlp = build_mlp(token_dim + side_dim, mlp, dropout)
        self.out_dim = mlp[-1]
        self.attention: torch.Tensor | None = None

    def forward(self, tokens: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        out, w = self.layer(tokens, tokens, tokens, need_weights=True)
        self.attention = w.detach()
        return self.mlp(_with_side(out.mean(dim=1), side, self.side_dim))


class MeanPoolFusion(nn.Module):
    """The plain-CNN baseline: the mean of all tokens (global average pooling), optional dropout."""

    def __init__(self, token_dim: int, side_dim: int = 0, set_size: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.side_dim = side_dim
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.out_dim = token_dim + side_dim
        self.attention = None

    def forward(self, tokens: torch.Tensor, side: torch.Tensor | None = None) -> torch.Tensor:
        return self.dropout(_with_side(tokens.mean(dim=1), side, self.side_dim))

