"""The ``gradcam`` explainer: a Grad-CAM map for every image of every sample, streamed to the store.

Task cluster (microwell paper §3.3): a linear head is trained on the frozen fused
features with the cluster ids as pseudo-labels; each sample is explained w.r.t. its
own cluster through encoder -> fusion -> head. Task classify: w.r.t. the predicted
(or the true) class through the trained classifier.

Per chunk, on the run's executor: the client trains the head and writes it to the partial
``head_weight`` / ``head_bias``; each chunk of ``batch_size`` samples (the maps array's chunk
rows) is one call of :func:`explain_chunk` (in this process, or one Dask task whose worker
reads the head from the store) that writes its rows of ``maps``, ``targets`` and
``target_prob``; the client marks it done in ``progress/<stage>`` (the store drops the marks
with the partial work and on commit) and writes the attrs at the end. A resumed run skips the
marked chunks and explains the rest with the stored head: it ends with the arrays and attrs of
an uninterrupted run.
"""

from __future__ import annotations

from typing import Any, ClassVar, Iterator

import numpy as np
import torch

from cellxai_core import schema
from cellxai_core.data import chunks
from cellxai_core.errors import ConfigError, DataError

from .cam import grad_cam
from .evaluate import PrefixedWriter, measure_faithfulness
from .head import train_linear_head
from .jobs import job_array, job_attrs, map_chunks, new_job, whole, write_job_array
from .modeling import class_names, head_from_arrays, resolve_layer, side_tensor, with_head
from .params import GradCAMParams

JOB = "gradcam"  # _partial/gradcam.job: what explain_chunk reads (params, array paths, planned targets)


def _true_classes(ctx: Any, classes: list[str]) -> np.ndarray:
    """samples/truth/class as indices of the model's outputs (ints as they are, names looked up)."""
    truth = ctx.truth("class")
    if truth is None:
        raise DataError("gradcam: target true_class needs samples/truth/class, which this dataset does not have")
    if truth.dtype.kind in "iu":
        return truth.astype(np.int64)
    lookup = {str(name): i for i, name in enumerate(classes)}
    missing = sorted({str(v) for v in truth} - set(lookup))
    if missing:
        raise DataError(f"gradcam: truth classes {missing} are not among the model's classes {classes}")
    return np.asarray([lookup[str(v)] for v in truth], dtype=np.int64)


class GradCAMExplainer:
    """``gradcam``: writes ``maps`` (N, S, H, W) float16 in [0, 1], ``targets``, ``target_prob`` (and the head)."""

    requires: ClassVar[tuple[str, ...]] = ("model", "labels", "images")
    after: ClassVar[tuple[str, ...]] = ()
    tasks: ClassVar[tuple[str, ...]] = ("cluster", "classify")

    def __init__(self, **params: Any) -> None:
        self.params = GradCAMParams(**params)

    def _head(self, ctx: Any, out: Any, labels: np.ndarray, device: torch.device, seed: int, stored: bool) -> tuple[Any, dict, list[str]]:
        """The linear head (task cluster): trained and written, or, when chunks were already explained, the stored one;
        with the paths of its weight and bias arrays (where the chunks read it)."""
        p = self.params
        fused = ctx.store.read(schema.FUSED)
        if stored:  # written before the first chunk was marked done
            k, d = len(np.unique(labels[labels >= 0])), fused.shape[1]
            weight = out.create_array("head_weight", (k, d), "float32", chunks=(k, d))
            bias = out.create_array("head_bias", (k,), "float32", chunks=(k,))
            return head_from_arrays(weight[...], bias[...], device), dict(weight.attrs["head"]), [weight.path, bias.path]
        head, metrics = train_linear_head(fused, labels, device=device, seed=seed, max_iter=p.head_max_iter, weight_decay=p.head_weight_decay)
        paths = []
        for name, value in (("head_weight", head.weight), ("head_bias", head.bias)):
            arr = value.detach().cpu().numpy().astype(np.float32)
            attrs = {"head": metrics} if name == "head_weight" else None
            stored_arr = out.create_array(name, arr.shape, "float32", chunks=arr.shape, attrs=attrs)
            stored_arr[...] = arr
            paths.append(stored_arr.path)
        return head, metrics, paths

    def _model_and_targets(self, ctx: Any, out: Any, seed: int, resume: bool) -> tuple[Any, np.ndarray | None, list[str], list[str]]:
        """The explained model, a target per sample (None: the model's top class), output names and the head's paths."""
        p = self.params
        base = ctx.model()
        device = next(base.parameters()).device
        if ctx.task == "cluster":
            if p.target == "true_class":
                raise ConfigError("gradcam: target true_class applies to task classify only; use auto or predicted")
            labels = ctx.labels()
            head, metrics, paths = self._head(ctx, out, labels, device, seed, resume)
            classes = metrics["classes"]
            out.attrs["head"] = {**metrics, "trained_on": "features/fused, cluster labels as pseudo-labels"}
            names = [f"cluster {c}" for c in classes]
            if p.target == "predicted":
                targets = None
            else:  # own cluster; noise samples get the head's top cluster
                own = np.searchsorted(classes, labels)
                targets = np.where(labels >= 0, np.clip(own, 0, len(classes) - 1), -1)
            return with_head(base, head), targets, names, paths
        names = class_names(ctx.store)
        if p.target == "true_class":
            return with_head(base, None), _true_classes(ctx, names), names, []
        if p.target == "predicted":
            return with_head(base, None), None, names, []
        return with_head(base, None), ctx.labels(), names, []

    def run(self, ctx: Any, out: Any) -> None:
        p = self.params
        seed = ctx.seed if p.seed is None else p.seed
        n = len(ctx.dataset)
        set_size, (height, width) = ctx.dataset.set_size, tuple(ctx.dataset.image_size)
        rows, stage = max(min(p.batch_size, n), 1), getattr(out, "stage", "explain:gradcam")
        maps = out.create_array("maps", (n, set_size, height, width), "float16", chunks=(rows, set_size, height, width))
        n_chunks = -(-n // rows)
        done = ctx.store.progress(stage, n_chunks)
        finished = done.done()
        model, targets, names, head = self._model_and_targets(ctx, out, seed, resume=bool(finished.any()))
        layer_name, _ = resolve_layer(model, p.layer)
        explained = out.create_array("targets", (n,), "int64", chunks=(rows,))
        probs = out.create_array("target_prob", (n,), "float32", chunks=(rows,))
        new_job(ctx.store, JOB, params=p.model_dump(mode="json"), maps=maps.path, targets=explained.path,
                target_prob=probs.path, head=head, shape=[set_size, height, width])
        write_job_array(ctx.store, JOB, "plan", np.full(n, -1, np.int64) if targets is None else np.asarray(targets, np.int64), rows)
        counts = write_job_array(ctx.store, JOB, "empty", np.zeros(n_chunks, np.int64), 1)
        todo = np.flatnonzero(~finished)
        with ctx.progress(total=n, description="gradcam", completed=n - sum(min(rows, n - c * rows) for c in todo)) as bar:
            for c in map_chunks(ctx, stage, todo, "cellxai_gradcam.gradcam_explainer:explain_chunk", rows):
                done.mark(c)
                bar.advance(min(rows, n - c * rows))
        # images whose map is 0 everywhere: counted by the chunks, read back from the maps of resumed chunks
        empty = sum(self._empty(maps[a:b]) for c, (a, b) in enumerate(chunks(n, rows)) if finished[c]) + int(np.asarray(counts[...]).sum())
        all_targets, all_probs = np.asarray(explained[...]), np.asarray(probs[...])
        out.attrs.update(
            layer=layer_name,
            layer_reading=getattr(getattr(model, "encoder", None), "cam_reading", None) if not p.layer else None,
            method=p.method,
            target=p.target if p.target != "auto" else ("own cluster" if ctx.task == "cluster" else "predicted class"),
            outputs=names,
            normalization="per image min-max to [0, 1] (pytorch-grad-cam), bilinear upsampling",
            mean_target_prob=float(all_probs.mean()) if n else None,
            empty_maps_fraction=empty / max(n * set_size, 1),
        )
        if p.faithfulness:
            summary = measure_faithfulness(ctx, model, layer_name, maps, all_targets, p, PrefixedWriter(out, "faithfulness"), p.method)
            out.attrs["faithfulness"] = summary

    @staticmethod
    def _empty(maps: Any) -> int:
        """How many images of (B, S, H, W) maps are 0 everywhere (no positive evidence at the layer)."""
        maps = np.asarray(maps)
        return int((maps.reshape(maps.shape[0], maps.shape[1], -1).max(axis=2) <= 0).sum())


def explain_chunk(ctx: Any, chunk: int, batches: Iterator[tuple[np.ndarray, Any]]) -> None:
    """One chunk of Grad-CAM maps (here or on a Dask worker): the model and its stored head, the chunk's planned
    targets (-1: the head's top output) from the job; writes the chunk's rows of maps, targets and target_prob."""
    store, job = ctx.store, job_attrs(ctx.store, JOB)
    p = GradCAMParams(**job["params"])
    base = ctx.model()
    device = next(base.parameters()).device
    head = head_from_arrays(store.array(job["head"][0])[...], store.array(job["head"][1])[...], device) if job["head"] else None
    model = with_head(base, head)
    _, layer = resolve_layer(model, p.layer)
    idx, x = whole(batches)
    start, stop = int(idx[0]), int(idx[-1]) + 1
    x = x.to(device)
    if tuple(x.shape[1:2] + x.shape[-2:]) != tuple(job["shape"]):
        raise DataError(f"gradcam: sample batch of shape {tuple(x.shape)} does not match the dataset's set size / image size")
    kwargs = side_tensor(ctx, idx, device)
    planned = np.asarray(job_array(store, JOB, "plan")[start:stop])
    t = None if (planned < 0).all() else torch.as_tensor(planned, device=device)
    if t is not None and (planned < 0).any():  # noise: the head's top cluster
        with torch.no_grad():
            top = model(x, **kwargs).argmax(dim=1)
        t = torch.where(t < 0, top, t)
    batch_maps, logits = grad_cam(model, layer, x, t, forward_kwargs=kwargs, return_logits=True, method=p.method)
    chosen = logits.argmax(dim=1) if t is None else t
    prob = torch.softmax(logits.float(), dim=1).gather(1, chosen[:, None])[:, 0]
    batch = batch_maps.clamp(0, 1).half().cpu().numpy()
    store.array(job["maps"])[start:stop] = batch
    store.array(job["targets"])[start:stop] = chosen.cpu().numpy()
    store.array(job["target_prob"])[start:stop] = prob.cpu().numpy()
    job_array(store, JOB, "empty")[chunk] = GradCAMExplainer._empty(batch)
