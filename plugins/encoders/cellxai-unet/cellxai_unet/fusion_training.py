"""Training of the temporal fusion on frozen tokens (the encoder is not touched).

Targets are the human-designed densities per day and trends per well, standardised,
so that no object class dominates the loss. The units of the fused vector come from the
same features: the standard error of a well's slope due to day-to-day noise (median
over wells) and the typical deviation of a day from its well's mean.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cellxai_core.errors import UserError

from .fusion_roles import SideRoles


def _mean_std(x: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-column mean and std over every leading axis; constant columns get std 1."""
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    std = np.where(std > 1e-8, std, 1.0)
    return torch.from_numpy(mean).float(), torch.from_numpy(std).float()


def _r2(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Coefficient of determination over all entries of standardised targets."""
    residual = ((pred - target) ** 2).sum()
    total = ((target - target.mean(dim=0)) ** 2).sum().clamp_min(1e-12)
    return float(1 - residual / total)


def relative_changes(density: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """(N, S, K) densities divided by each well's level (its mean over S) plus ``floor`` (K,)."""
    return density / (density.mean(axis=1, keepdims=True) + floor)


def trajectory_units(density: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, S, K) per-day densities -> slope standard error and day-deviation scale, each (K,).

    The SE is the median over wells of sqrt(RSS / (S - 2) / sum (t - mean t)^2) of the
    least-squares line through each well's days; with two days there is no residual, and
    the root-mean-square slope is used instead.
    """
    n, s, k = density.shape
    t = np.arange(s, dtype=np.float64) - (s - 1) / 2
    centred = density.astype(np.float64) - density.mean(axis=1, keepdims=True)
    slope = np.einsum("t,ntk->nk", t, centred) / max((t**2).sum(), 1e-12)
    if s > 2:
        rss = ((centred - slope[:, None, :] * t[None, :, None]) ** 2).sum(axis=1)
        unit = np.median(np.sqrt(rss / (s - 2) / (t**2).sum()), axis=0)
    else:
        unit = np.sqrt((slope**2).mean(axis=0))
    shape = np.sqrt((centred**2).mean(axis=(0, 1)))
    return np.where(unit > 1e-12, unit, 1.0), np.where(shape > 1e-12, shape, 1.0)


def fit_fusion(fusion: Any, tokens: np.ndarray, side: np.ndarray | None, roles: SideRoles, ctx: Any) -> dict[str, float]:
    """Fit the standardisation buffers and train attention + heads; returns training metrics."""
    if side is None or not roles.density:
        raise UserError(
            "fusion 'temporal-attention' is trained to predict object densities from the human-designed features "
            "(columns <object>_area); the encoder provides none — use an encoder with "
            "human-designed features (unet, resnet18, resnet34) or another fusion"
        )
    s = fusion.training_settings
    device = torch.device(getattr(ctx, "device", "cpu") if ctx is not None else "cpu")
    fusion.to(device)
    t_mean, t_std = _mean_std(tokens)
    s_mean, s_std = _mean_std(side)
    fusion.token_mean.copy_(t_mean), fusion.token_std.copy_(t_std)
    fusion.side_mean.copy_(s_mean), fusion.side_std.copy_(s_std)
    fusion.set_roles(roles)
    units = fit_units(fusion, side[..., list(roles.density)])

    tok = torch.from_numpy(np.ascontiguousarray(tokens, dtype=np.float32)).to(device)
    sd = torch.from_numpy(np.ascontiguousarray(side, dtype=np.float32)).to(device)
    standard = (sd - fusion.side_mean) / fusion.side_std
    density_target = standard[..., list(roles.density)]
    use_trend_head = fusion.use_trend and bool(roles.trend)
    trend_target = standard[:, 0, list(roles.trend)] if use_trend_head else None

    n = len(tok)
    rng = np.random.default_rng(s["seed"])
    losses: list[float] = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(s["seed"])
        optimizer = torch.optim.Adam(fusion.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])
        fusion.train()
        progress = ctx.progress(total=s["epochs"], description="fit temporal-attention") if ctx is not None else nullcontext()
        with progress as bar:
            for _ in range(s["epochs"]):
                order = torch.from_numpy(rng.permutation(n)).to(device)
                for start in range(0, n, s["batch_size"]):
                    idx = order[start : start + s["batch_size"]]
                    density, trend = fusion.heads_of(fusion.latent(tok[idx], sd[idx]))
                    loss = F.mse_loss(density, density_target[idx])
                    if trend_target is not None:
                        loss = loss + F.mse_loss(trend, trend_target[idx])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    losses.append(float(loss.detach()))
                if bar is not None:
                    bar.advance(1)
    fusion.eval()
    with torch.no_grad():
        z = torch.cat([fusion.latent(tok[i : i + 1024], sd[i : i + 1024]) for i in range(0, n, 1024)])
        density, trend = fusion.heads_of(z)
    metrics = {"fusion_r2_density": _r2(density.flatten(1), density_target.flatten(1))}
    if losses:
        tail = max(1, len(losses) // 20)
        metrics.update(fusion_loss_first=float(np.mean(losses[:tail])), fusion_loss_last=float(np.mean(losses[-tail:])))
    if trend_target is not None:
        metrics["fusion_r2_trend"] = _r2(trend, trend_target)
    metrics["fusion_changes_relative"] = choose_changes(fusion, units, tok, sd)
    return metrics


def fit_units(fusion: Any, density: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Noise units of the absolute and of the relative trajectories; the level floor; the fixed choice set."""
    floor = fusion.relative_floor * np.median(density.mean(axis=1), axis=0)
    fusion.level_floor.copy_(torch.from_numpy(floor).float())
    units = {"absolute": trajectory_units(density), "relative": trajectory_units(relative_changes(density, floor))}
    _use(fusion, units, "relative" if fusion.changes == "relative" else "absolute")
    return units


def _use(fusion: Any, units: dict[str, tuple[np.ndarray, np.ndarray]], changes: str) -> None:
    trend_unit, shape_unit = units[changes]
    fusion.trend_unit.copy_(torch.from_numpy(trend_unit).float())
    fusion.shape_unit.copy_(torch.from_numpy(shape_unit).float())
    fusion.relative_on.fill_(float(changes == "relative"))


def choose_changes(fusion: Any, units: dict[str, tuple[np.ndarray, np.ndarray]], tok: torch.Tensor,
                   sd: torch.Tensor, sample: int = 2000) -> float:
    """``changes: auto``: the trajectories (absolute or relative to the well's level) that group better.

    Better = the higher best silhouette of k-means over k = 2..10 on the fused vectors of (at most
    ``sample``) wells: growth and killing proportional to the cells present make relative changes group,
    changes of a fixed size make absolute ones group. Returns 1.0 when relative was kept.
    """
    if fusion.changes != "auto":
        return float(fusion.relative_on)
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rows = np.random.default_rng(0).permutation(len(tok))[:sample]
    score = {}
    for changes in ("absolute", "relative"):
        _use(fusion, units, changes)
        with torch.no_grad():
            x = fusion(tok[rows], sd[rows]).cpu().numpy().astype(np.float64)
        fits = [KMeans(k, n_init=4, random_state=0).fit_predict(x) for k in range(2, min(10, len(x) - 1) + 1)]
        score[changes] = max((silhouette_score(x, f) for f in fits if len(set(f)) > 1), default=-1.0)
    _use(fusion, units, max(score, key=lambda c: (score[c], c == "absolute")))
    return float(fusion.relative_on)
