"""Segmentation pre-training of an encoder on its object classes' pseudo-labels or truth masks, and its scoring.

The paper trains for 100 iterations, batch 16, SGD lr 1e-4, weight decay 1e-4. From a
random initialisation that optimiser barely moves a U-Net in 100 steps (the loss
stays near its start), so the default here is Adam for 150 steps on a one-cycle schedule
to lr 1e-2; the paper's setting stays one config line away. At a constant 1e-3 the
argmax was already right (Dice 0.97) but the probabilities were not: 38 % cell
probability on every background pixel of the demo, which is what Grad-CAM reads.
The loss is cross-entropy plus soft Dice over the cell classes, because cells cover
a few percent of each image and cross-entropy alone learns "all background". The classes
are background + the dataset's object classes; truth masks label them 1..K in that order.
Training reads a fixed pool of ``train_samples`` samples once and draws random crops
from it. When the dataset has truth masks, ``eval_wells`` samples are held out of
training and scored, for the model and for the pseudo-labels themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from cellxai_core.data import load_batch, truth_keys
from cellxai_core.errors import UserError

from .base import channel_argmax, in_chunks, one_hot_channels
from .params import PretrainParams
from .segmetrics import ConfusionCounter


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy + (1 - soft Dice) averaged over the foreground classes."""
    ce = F.cross_entropy(logits, target)
    prob = logits.softmax(dim=1)[:, 1:]
    onehot = one_hot_channels(target, logits.shape[1], prob.dtype)[:, 1:]
    inter = (prob * onehot).sum(dim=(0, 2, 3))
    dice = (2 * inter + 1) / (prob.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3)) + 1)
    return ce + (1 - dice).mean()


def make_optimizer(params: Any, settings: PretrainParams) -> torch.optim.Optimizer:
    if settings.optimizer == "sgd":
        return torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay)
    cls = torch.optim.AdamW if settings.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=settings.lr, weight_decay=settings.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, settings: PretrainParams) -> torch.optim.lr_scheduler.LRScheduler:
    """One-cycle (Smith 2018: warm-up over 10 % of the steps, cosine annealing) or a constant learning rate.

    torch's OneCycleLR divides by zero when the warm-up ends on step 0 (10 steps at 10 %), so the
    warm-up lasts at least 1.5 steps, and runs of fewer than 4 steps keep the rate constant.
    """
    steps = settings.iterations
    if settings.schedule == "constant" or steps < 4:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.lr, total_steps=steps, pct_start=max(0.1, 1.5 / steps), cycle_momentum=False
    )


def read_images(ctx: Any, indices: np.ndarray, with_masks: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Images (B*S, C, H, W) of the given samples and, if asked, their truth masks (B*S, H, W)."""
    if not with_masks:
        _, images = next(ctx.iter_batches(batch_size=len(indices), indices=indices))
        return torch.from_numpy(images).flatten(0, 1), None
    samples, images = load_batch(ctx.dataset, indices)
    masks = np.stack([np.asarray(s.truth["mask"]) for s in samples]).astype(np.int64)
    return torch.from_numpy(images).flatten(0, 1), torch.from_numpy(masks).flatten(0, 1)


def read_pool(ctx: Any, model: Any, pool: np.ndarray, on_truth: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (P*S, C, H, W) of the pre-training samples and their targets (P*S, H, W) uint8, read once.

    Reading a fixed pool once (instead of new samples every step) keeps pre-training cheap
    when samples are expensive to read or generate; random crops, flips and turns vary it.
    """
    images, targets = [], []
    for start in range(0, len(pool), 16):
        x, masks = read_images(ctx, pool[start : start + 16], with_masks=on_truth)
        images.append(x)
        targets.append((masks if masks is not None else model.pseudo_labels(x.to(model.finder.diameter.device)).cpu()).to(torch.uint8))
    images_, targets_ = torch.cat(images), torch.cat(targets)
    if on_truth and int(targets_.max()) >= model.n_classes:
        raise UserError(
            f"encoder '{model.name}': truth masks hold label {int(targets_.max())}, but the dataset declares "
            f"{model.n_classes - 1} object class(es) ({', '.join(model.class_names[1:])}); pretrain_on: pseudo, or declare them"
        )
    return images_, targets_


def _augment(
    images: torch.Tensor, target: torch.Tensor, rng: np.random.Generator, crop: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random crop per image, then random flips and quarter turns of the batch (cells have no orientation)."""
    h, w = images.shape[-2:]
    if crop is not None and crop < min(h, w):
        ys, xs = rng.integers(0, h - crop + 1, len(images)), rng.integers(0, w - crop + 1, len(images))
        images = torch.stack([im[:, y : y + crop, x : x + crop] for im, y, x in zip(images, ys, xs)])
        target = torch.stack([t[y : y + crop, x : x + crop] for t, y, x in zip(target, ys, xs)])
    k = int(rng.integers(4))
    images, target = torch.rot90(images, k, dims=(-2, -1)), torch.rot90(target, k, dims=(-2, -1))
    if rng.random() < 0.5:
        images, target = images.flip(-1), target.flip(-1)
    return images, target


def split_indices(n: int, eval_wells: int, has_masks: bool) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out sample indices; nothing is held out without truth to score against."""
    hold = min(eval_wells, n // 4) if has_masks else 0
    return np.arange(n - hold), np.arange(n - hold, n)


def pretrain_segmentation(model: Any, ctx: Any, settings: PretrainParams) -> dict[str, float]:
    """Train ``model.segment`` for ``settings.iterations`` steps; returns losses and metrics."""
    device = torch.device(ctx.device)
    has_masks = "mask" in truth_keys(ctx.dataset)
    on_truth = settings.pretrain_on == "truth"
    if on_truth and not has_masks:
        raise UserError(f"encoder '{model.name}': pretrain_on: truth, but the dataset has no truth masks")
    train_idx, eval_idx = split_indices(len(ctx.dataset), settings.eval_wells, has_masks)
    rng = np.random.default_rng(settings.seed)
    pool = np.sort(rng.choice(train_idx, size=min(settings.train_samples, len(train_idx)), replace=False))
    images, targets = read_pool(ctx, model, pool, on_truth)

    model.to(device).train()
    optimizer = make_optimizer(model.parameters(), settings)
    scheduler = make_scheduler(optimizer, settings)
    losses: list[float] = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(settings.seed)
        with ctx.progress(total=settings.iterations, description=f"pretrain {model.name}") as bar:
            for _ in range(settings.iterations):
                pick = torch.from_numpy(rng.choice(len(images), size=min(settings.batch_size, len(images)), replace=False))
                x, target = _augment(images[pick], targets[pick].long(), rng, settings.crop)
                loss = segmentation_loss(model.segment(x.to(device)), target.to(device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                losses.append(float(loss.detach()))
                bar.advance(1)
    model.eval()
    head = max(1, len(losses) // 10)
    metrics = {
        "pretrain_loss_first": float(np.mean(losses[:head])),
        "pretrain_loss_last": float(np.mean(losses[-head:])),
    }
    if has_masks and len(eval_idx):
        metrics.update(evaluate_segmentation(model, ctx, eval_idx, settings))
    return metrics


@torch.no_grad()
def evaluate_segmentation(model: Any, ctx: Any, indices: np.ndarray, settings: PretrainParams) -> dict[str, float]:
    """The paper's metrics per object class for the model (``seg_*``) and the pseudo-labels (``pseudo_*``)."""
    device = torch.device(ctx.device)
    names = model.class_names
    model_counts, pseudo_counts = ConfusionCounter(len(names)), ConfusionCounter(len(names))
    step = max(1, settings.batch_size // max(1, int(getattr(ctx.dataset, "set_size", 1) or 1)))
    for start in range(0, len(indices), step):
        images, masks = read_images(ctx, indices[start : start + step], with_masks=True)
        images = images.to(device)
        model_counts.update(channel_argmax(in_chunks(model.segment, images)), masks.clamp_max(len(names) - 1))
        pseudo_counts.update(model.pseudo_labels(images), masks.clamp_max(len(names) - 1))
    out = {f"seg_{k}": v for k, v in model_counts.metrics(names).items()}
    out.update({f"pseudo_{k}": v for k, v in pseudo_counts.metrics(names).items()})
    out["eval_samples"] = float(len(indices))
    return out
