"""The linear head that turns cluster ids into something Grad-CAM can differentiate.

As in the microwell paper: after clustering, a classifier is trained on the frozen
fused features with the cluster ids as pseudo-labels; only the classifier learns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from cellxai_core.errors import NotApplicable


def train_linear_head(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    device: torch.device,
    seed: int,
    max_iter: int = 200,
    weight_decay: float = 1e-3,
    max_train: int = 20_000,
) -> tuple[nn.Linear, dict[str, Any]]:
    """Fit ``Linear(D', K)`` on (N, D') features and labels (-1 = noise, left out).

    Multinomial logistic regression with an L2 penalty (which keeps the softmax away
    from saturation), trained full-batch with L-BFGS on standardised features; the
    standardisation is then folded into the weights, so the head applies to the raw
    fused vector. Output k is the k-th cluster id in ascending order (``metrics["classes"]``).

    Above ``max_train`` clustered samples the head trains on a stratified subsample of
    that size (every cluster keeps its share, at least one sample), so full-batch L-BFGS
    costs the same at 10^5 or 10^6 samples as at 20,000; a linear head on D' features
    gains nothing from more. ``accuracy`` is still measured on every clustered sample.
    At or below ``max_train`` nothing changes.
    """
    keep = labels >= 0
    classes = np.unique(labels[keep])
    if len(classes) < 2:
        raise NotApplicable(f"gradcam: the clustering found {len(classes)} cluster(s) (noise excluded); Grad-CAM "
                            "explains what tells clusters apart and needs at least 2")
    kept = np.flatnonzero(keep)
    targets = np.searchsorted(classes, labels[kept])
    train = stratified_subsample(targets, max_train, seed) if len(kept) > max_train else np.arange(len(kept))
    x = torch.as_tensor(features[kept[train]], dtype=torch.float32, device=device)
    y = torch.as_tensor(targets[train], dtype=torch.long, device=device)
    mean, std = x.mean(dim=0), x.std(dim=0, unbiased=False).clamp_min(1e-6)
    z = (x - mean) / std
    generator = torch.Generator(device="cpu").manual_seed(seed)
    head = nn.Linear(x.shape[1], len(classes)).to(device)
    with torch.no_grad():
        head.weight.copy_(0.01 * torch.randn(head.weight.shape, generator=generator))
        head.bias.zero_()
    optimiser = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        optimiser.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(head(z), y) + weight_decay * head.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimiser.step(objective)
    with torch.no_grad():
        loss = nn.functional.cross_entropy(head(z), y)
        head.weight.div_(std)
        head.bias.sub_(head.weight @ mean)
        accuracy = _accuracy(head, features[kept], targets, device)
    head.requires_grad_(False)
    metrics = {
        "accuracy": accuracy,
        "loss": float(loss.detach()),
        "n_train": int(len(train)),
        "n_clustered": int(len(kept)),
        "n_noise": int((~keep).sum()),
        "classes": [int(c) for c in classes],
        "optimiser": f"L-BFGS, max_iter {max_iter}, L2 {weight_decay}",
    }
    return head.eval(), metrics


def stratified_subsample(targets: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Sorted positions of about ``size`` samples, each class keeping its share (at least one sample)."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(targets, return_counts=True)
    quota = np.maximum(1, np.floor(size * counts / counts.sum()).astype(int))
    picks = [rng.choice(np.flatnonzero(targets == c), size=min(q, n), replace=False) for c, q, n in zip(classes, quota, counts)]
    return np.sort(np.concatenate(picks))


def _accuracy(head: nn.Linear, features: np.ndarray, targets: np.ndarray, device: torch.device, batch: int = 65_536) -> float:
    """Fraction of samples whose top output is their cluster, in batches (memory O(batch))."""
    correct = 0
    for b0 in range(0, len(targets), batch):
        x = torch.as_tensor(features[b0 : b0 + batch], dtype=torch.float32, device=device)
        correct += int((head(x).argmax(dim=1).cpu().numpy() == targets[b0 : b0 + batch]).sum())
    return correct / len(targets)
