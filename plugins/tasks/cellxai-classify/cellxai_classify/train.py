"""Training, prediction and MC-dropout of one model on a subset of the samples.

``trace(event, fold, indices)``, when given, is told which samples enter each step:
``"train"`` (every training batch, originals and augmented views), ``"augment"`` (the
samples whose views were augmented), ``"fit_zca"`` (the samples ZCA was fitted on) and
``"predict"`` (held-out samples). The leak tests use it.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from cellxai_core.data import chunks

from .augment import random_affine
from .config import ClassifySpec
from .preprocess import ZCAWhitening
from .source import ImageSource

Trace = Optional[Callable[[str, int, np.ndarray], None]]


def _emit(trace: Trace, event: str, fold: int, indices: np.ndarray) -> None:
    if trace is not None:
        trace(event, fold, np.asarray(indices))


def fit_zca(
    source: ImageSource, train_idx: np.ndarray, spec: ClassifySpec, device: torch.device, trace: Trace, fold: int
) -> ZCAWhitening | None:
    """ZCA whitening fitted on the (non-augmented) training samples, or None when off."""
    if not spec.augment.zca:
        return None
    _emit(trace, "fit_zca", fold, train_idx)
    return ZCAWhitening(spec.augment.zca_epsilon).fit(source.get(train_idx).to(device)).to(device)


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    """Batches of ``order``; a trailing batch of one sample joins the previous (batch norm needs two)."""
    bounds = list(chunks(len(order), size))
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2] = (bounds[-2][0], bounds[-1][1])
        bounds.pop()
    return [order[a:b] for a, b in bounds]


def train_model(
    model: nn.Module,
    source: ImageSource,
    train_idx: np.ndarray,
    spec: ClassifySpec,
    device: torch.device,
    generator: torch.Generator,
    zca: ZCAWhitening | None = None,
    advance: Callable[[int], None] | None = None,
    trace: Trace = None,
    fold: int = 0,
) -> float:
    """SGD with cross-entropy for ``spec.epochs`` epochs; returns the last epoch's mean loss.

    Every epoch sees each training sample once as is and ``augment.copies`` times as a
    freshly drawn random rotation + shift, in one shuffled order.
    """
    aug = spec.augment
    optimizer = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, spec.epochs) if spec.schedule == "cosine" else None
    loss_fn = nn.CrossEntropyLoss()
    views = np.tile(train_idx, 1 + aug.copies)
    augmented = np.repeat(np.arange(1 + aug.copies) > 0, len(train_idx))
    labels = torch.from_numpy(source.labels).to(device)
    model.train()
    mean_loss = float("nan")
    for _ in range(spec.epochs):
        order = torch.randperm(len(views), generator=generator).numpy()
        total, seen = 0.0, 0
        for batch in _batches(order, spec.batch_size):
            idx, is_aug = views[batch], augmented[batch]
            x = source.get(idx).to(device)
            if is_aug.any():
                rows = torch.from_numpy(np.flatnonzero(is_aug)).to(device)
                x[rows] = random_affine(x[rows], aug.rotation, aug.shift, generator, aug.flip)
                _emit(trace, "augment", fold, idx[is_aug])
            _emit(trace, "train", fold, idx)
            if zca is not None:
                x = zca(x)
            loss = loss_fn(model(x), labels[torch.from_numpy(idx).to(device)])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, seen = total + loss.item() * len(idx), seen + len(idx)
        mean_loss = total / max(seen, 1)
        if scheduler is not None:
            scheduler.step()
        if advance is not None:
            advance(1)
    return mean_loss


def _model_input(source: ImageSource, idx: np.ndarray, device: torch.device, zca: ZCAWhitening | None) -> torch.Tensor:
    x = source.get(idx).to(device)
    return zca(x) if zca is not None else x


@torch.no_grad()
def predict_proba(
    model: nn.Module,
    source: ImageSource,
    indices: np.ndarray,
    batch_size: int,
    device: torch.device,
    zca: ZCAWhitening | None = None,
    trace: Trace = None,
    fold: int = 0,
) -> np.ndarray:
    """Softmax probabilities (n, K) of ``indices``, model in eval mode, no augmentation."""
    model.eval()
    _emit(trace, "predict", fold, indices)
    out = [
        torch.softmax(model(_model_input(source, indices[a:b], device, zca)), dim=1).cpu()
        for a, b in chunks(len(indices), batch_size)
    ]
    return torch.cat(out).numpy().astype(np.float32)


def has_dropout(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in model.modules())


@torch.no_grad()
def mc_dropout(
    model: nn.Module,
    source: ImageSource,
    indices: np.ndarray,
    passes: int,
    batch_size: int,
    device: torch.device,
    seed: int,
    zca: ZCAWhitening | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MC-dropout: ``passes`` forward passes with dropout on (batch norm frozen).

    Returns the predictive mean (n, K), its standard deviation over passes (n, K) and
    the entropy of the mean (n,) in nats.
    """
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.train()
    torch.manual_seed(seed)
    means, stds = [], []
    try:
        for a, b in chunks(len(indices), batch_size):
            x = _model_input(source, indices[a:b], device, zca)
            probs = torch.stack([torch.softmax(model(x), dim=1) for _ in range(passes)]).cpu()
            means.append(probs.mean(dim=0))
            stds.append(probs.std(dim=0, unbiased=False))
    finally:
        model.eval()
    mean, std = torch.cat(means), torch.cat(stds)
    entropy = -(mean * torch.log(mean.clamp_min(1e-12))).sum(dim=1)
    return mean.numpy().astype(np.float32), std.numpy().astype(np.float32), entropy.numpy().astype(np.float32)
