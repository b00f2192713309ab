"""The ``gmean`` explainer: Gmean-Shape, Gmean-GradCAM and their correlation image per group.

Groups are clusters (task cluster, noise left out) or predicted classes (task
classify). Everything is accumulated batch by batch as running log-sums on the run's
device, so memory depends on the number of groups, not on N.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch

from cellxai_core.errors import UserError
from cellxai_core.model import resolve_device

from .gmean import GeometricMeanAccumulator, correlation_ratios, patch_correlation
from .modeling import class_names
from .params import GmeanParams

MAPS = "explanations/gradcam/maps"


def _group_names(ctx: Any, ids: np.ndarray) -> list[str]:
    if ctx.task == "cluster":
        return [f"cluster {k}" for k in ids]
    classes = class_names(ctx.store)
    return [str(classes[k]) if k < len(classes) else f"class {k}" for k in ids]


def _write(out: Any, name: str, value: np.ndarray) -> None:
    out.create_array(name, value.shape, value.dtype, chunks=value.shape)[...] = value


class GmeanExplainer:
    """``gmean``: writes ``shape`` (G, S, C, H, W), ``total``, ``gradcam``, ``correlation`` (G, S, H, W)."""

    requires: ClassVar[tuple[str, ...]] = ("labels", "images")
    after: ClassVar[tuple[str, ...]] = ("gradcam",)
    tasks: ClassVar[tuple[str, ...]] = ("cluster", "classify")

    def __init__(self, **params: Any) -> None:
        self.params = GmeanParams(**params)

    def run(self, ctx: Any, out: Any) -> None:
        p = self.params
        device = resolve_device(ctx.device)
        labels = ctx.labels()
        ids = np.unique(labels[labels >= 0])
        lookup = np.full(int(labels.max()) + 2 if len(labels) else 1, -1, dtype=np.int64)
        lookup[ids] = np.arange(len(ids))
        maps = ctx.store.array(MAPS)
        weights = ctx.store.read("explanations/gradcam/target_prob") if p.weights == "target_prob" else None
        n_groups = len(ids)
        if not n_groups:
            raise UserError("gmean: no cluster or class to average over (every sample is noise)")
        s, c, (h, w) = ctx.dataset.set_size, len(ctx.dataset.channels), tuple(ctx.dataset.image_size)
        shape_acc = GeometricMeanAccumulator(n_groups, (s, c, h, w), p.epsilon, device)
        total_acc = GeometricMeanAccumulator(n_groups, (s, h, w), p.epsilon, device)
        cam_acc = GeometricMeanAccumulator(n_groups, (s, h, w), p.epsilon, device)
        with ctx.progress(total=len(labels), description="gmean") as bar:
            for idx, images in ctx.iter_batches(p.batch_size):
                group = lookup[labels[idx]]
                keep = group >= 0
                if keep.any():
                    x = torch.from_numpy(images[keep]).to(device)
                    m = torch.from_numpy(np.asarray(maps[idx[0]: idx[-1] + 1])[keep].astype(np.float32)).to(device)
                    g = torch.from_numpy(group[keep]).to(device)
                    wt = None if weights is None else torch.from_numpy(weights[idx][keep]).to(device)
                    shape_acc.add(x, g, wt)
                    total_acc.add(x.mean(dim=2), g, wt)
                    cam_acc.add(m, g, wt)
                bar.advance(len(idx))
        total, gradcam = total_acc.result(), cam_acc.result()
        rho = patch_correlation(total, gradcam, p.radius)
        positive, negative = correlation_ratios(rho, p.threshold)
        all_pos, all_neg = correlation_ratios(rho.reshape(n_groups, -1, 1), p.threshold)
        names = _group_names(ctx, ids)
        _write(out, "shape", shape_acc.result().float().cpu().numpy())
        _write(out, "total", total.float().cpu().numpy())
        _write(out, "gradcam", gradcam.float().cpu().numpy())
        _write(out, "correlation", rho.cpu().numpy())
        _write(out, "count", shape_acc.count.cpu().numpy().astype(np.int64))
        out.attrs.update(
            groups=names,
            group_ids=[int(k) for k in ids],
            epsilon=p.epsilon,
            formula="exp(sum w ln(x + eps) / sum w) - eps",
            weights=p.weights,
            total="mean of the channels (total intensity / C, stays in [0, 1])",
            radius=p.radius,
            patch=f"{2 * p.radius + 1}x{2 * p.radius + 1}",
            threshold=p.threshold,
            ratios={
                name: {
                    "positive": float(all_pos[i]),
                    "negative": float(all_neg[i]),
                    "positive_per_image": positive[i].cpu().tolist(),
                    "negative_per_image": negative[i].cpu().tolist(),
                }
                for i, name in enumerate(names)
            },
        )
