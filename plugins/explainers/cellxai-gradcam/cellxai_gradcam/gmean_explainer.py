"""The ``gmean`` explainer: Gmean-Shape, Gmean-GradCAM and their correlation image per group.

Groups are clusters (task cluster, noise left out) or predicted classes (task
classify). Each chunk of ``chunk_size`` samples (more when N > 128 chunk_size: at most
:data:`MAX_CHUNKS` chunks) is one call of :func:`gmean_chunk` on the
run's executor (in this process or a Dask worker): it accumulates the chunk's running
log-sums batch by batch on the run's device and writes them to its row of per-chunk sums in
the stage's partial group (G x image size each, so memory depends on the number of groups,
not on N). The client adds the chunks' sums in chunk order and finishes. Finished chunks are
marked, so a resumed run adds only the missing ones. Equal to one running sum over all
batches up to float64 rounding (the sums are added in another order); bit for bit with one chunk.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator

import numpy as np
import torch

from cellxai_core.errors import UserError
from cellxai_core.model import resolve_device
from cellxai_core.store import PARTIAL

from .gmean import GeometricMeanAccumulator, correlation_ratios, patch_correlation
from .jobs import job_array, job_attrs, map_chunks, new_job, rebatched, require_array, write_job_array
from .modeling import class_names
from .params import GmeanParams

MAPS, PROB = "explanations/gradcam/maps", "explanations/gradcam/target_prob"
JOB = "gmean"  # _partial/gmean.job: what gmean_chunk reads (params, group of each sample, array paths)
MAX_CHUNKS = 128  # each chunk keeps G x S x (C + 2) x H x W float64 sums until the stage ends: bounded scratch


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

    def _accumulate(self, ctx: Any, out: Any, group: np.ndarray, n_groups: int, shapes: dict[str, tuple[int, ...]],
                    device: Any) -> dict[str, GeometricMeanAccumulator]:
        """Every chunk's sums (``group``: each sample's group index, -1 = left out) on the executor, added up here."""
        p, n = self.params, len(group)
        rows = max(min(max(int(getattr(ctx.config, "chunk_size", 64)), -(-n // MAX_CHUNKS)), n), 1)
        stage = getattr(out, "stage", "explain:gmean")
        n_chunks, root = -(-n // rows), f"{PARTIAL}/{stage.replace(':', '.')}/sums"  # kept for a resume, never published
        sums = {k: require_array(ctx.store, f"{root}/{k}", (n_chunks, n_groups, *v), "float64", (1, n_groups, *v)) for k, v in shapes.items()}
        weight = require_array(ctx.store, f"{root}/weight", (n_chunks, n_groups), "float64", (1, n_groups))
        count = require_array(ctx.store, f"{root}/count", (n_chunks, n_groups), "int64", (1, n_groups))
        new_job(ctx.store, JOB, params=p.model_dump(mode="json"), n_groups=n_groups, shapes=shapes, maps=MAPS,
                weights=PROB if p.weights == "target_prob" else None, sums={k: a.path for k, a in sums.items()},
                weight=weight.path, count=count.path)
        write_job_array(ctx.store, JOB, "group", group, rows)
        done = ctx.store.progress(stage, n_chunks)
        todo = np.flatnonzero(~done.done())
        with ctx.progress(total=n, description="gmean", completed=n - sum(min(rows, n - k * rows) for k in todo)) as bar:
            for k in map_chunks(ctx, stage, todo, "cellxai_gradcam.gmean_explainer:gmean_chunk", rows):
                done.mark(k)
                bar.advance(min(rows, n - k * rows))
        accs = {k: GeometricMeanAccumulator(n_groups, v, p.epsilon, device) for k, v in shapes.items()}
        for k in range(n_chunks):  # in chunk order, whatever order they finished in: the same sums every run
            chunk_weight, chunk_count = np.asarray(weight[k]), np.asarray(count[k])
            for name, acc in accs.items():
                acc.add_sums(np.asarray(sums[name][k]), chunk_weight, chunk_count)
        return accs

    def run(self, ctx: Any, out: Any) -> None:
        p = self.params
        device = resolve_device(ctx.device)
        labels = ctx.labels()
        ids = np.unique(labels[labels >= 0])
        lookup = np.full(int(labels.max()) + 2 if len(labels) else 1, -1, dtype=np.int64)
        lookup[ids] = np.arange(len(ids))
        n_groups = len(ids)
        if not n_groups:
            raise UserError("gmean: no cluster or class to average over (every sample is noise)")
        s, c, (h, w) = ctx.dataset.set_size, len(ctx.dataset.channels), tuple(ctx.dataset.image_size)
        shapes = {"shape": (s, c, h, w), "total": (s, h, w), "gradcam": (s, h, w)}
        accs = self._accumulate(ctx, out, lookup[labels], n_groups, shapes, device)
        shape_acc, total_acc, cam_acc = accs["shape"], accs["total"], accs["gradcam"]
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


def gmean_chunk(ctx: Any, chunk: int, batches: Iterator[tuple[np.ndarray, Any]]) -> None:
    """One chunk's sums of w ln(x + eps), w and counts per group (here or on a Dask worker), in batches of the
    params' ``batch_size``; written to the chunk's row of the partial sums the client adds up."""
    store, job = ctx.store, job_attrs(ctx.store, JOB)
    p = GmeanParams(**job["params"])
    device = resolve_device(ctx.device)
    accs = {k: GeometricMeanAccumulator(job["n_groups"], tuple(v), p.epsilon, device) for k, v in job["shapes"].items()}
    maps, groups = store.array(job["maps"]), job_array(store, JOB, "group")
    weights = store.array(job["weights"]) if job["weights"] else None
    for idx, images in rebatched(batches, p.batch_size):
        a, b = int(idx[0]), int(idx[-1]) + 1
        group = np.asarray(groups[a:b])
        keep = group >= 0
        if keep.any():
            x = images[torch.from_numpy(keep)].to(device)
            m = torch.from_numpy(np.asarray(maps[a:b])[keep].astype(np.float32)).to(device)
            g = torch.from_numpy(group[keep]).to(device)
            wt = None if weights is None else torch.from_numpy(np.asarray(weights[a:b])[keep]).to(device)
            accs["shape"].add(x, g, wt)
            accs["total"].add(x.mean(dim=2), g, wt)
            accs["gradcam"].add(m, g, wt)
    for name, acc in accs.items():
        store.array(job["sums"][name])[chunk] = acc.log_sum.double().cpu().numpy()
    store.array(job["weight"])[chunk] = accs["shape"].weight.double().cpu().numpy()
    store.array(job["count"])[chunk] = accs["shape"].count.cpu().numpy()
