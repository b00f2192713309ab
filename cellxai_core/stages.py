"""The work of each pipeline stage. Torch is imported inside the functions that need it."""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .context import RunContext
from .data import chunks, dataset_classes, load_batch, meta_keys, set_labels, truth_keys

if TYPE_CHECKING:  # pragma: no cover
    from .pipeline import Pipeline

log = logging.getLogger("cellxai")
WEIGHTS = "model.safetensors"
SCALAR_TRUTH = ("program", "class")


# -- weights -----------------------------------------------------------------------------
def save_weights(out: Path, model: Any) -> None:
    """Write the model's weights with safetensors, atomically (tmp file, then rename)."""
    from safetensors.torch import save_file

    from .model import state_dict_for_save

    tensors = state_dict_for_save({"encoder": model.encoder, "fusion": model.fusion, "head": model.head})
    tmp = out / (WEIGHTS + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": "cellxai"})
    os.replace(tmp, out / WEIGHTS)


def load_weights(out: Path, model: Any) -> None:
    """Load weights saved by :func:`save_weights` (no pickle); a missing head is allowed."""
    from safetensors.torch import load_file

    path = out / WEIGHTS
    if not path.exists():
        return
    tensors = load_file(str(path))
    for prefix in ("encoder", "fusion", "head"):
        module = getattr(model, prefix)
        part = {k[len(prefix) + 1:]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        if module is not None and part:
            module.load_state_dict(part)


def load_trained_model(pipe: "Pipeline", dataset: Any) -> Any:
    """The run's model rebuilt from the config and its saved weights, in eval mode on the device."""
    from .model import resolve_device

    n_classes = None
    if pipe.cfg.task == "classify":
        n_classes = len(dataset_classes(dataset) or ())
    model = pipe.build_model(dataset, with_head=n_classes)
    load_weights(pipe.out, model)
    return model.to(resolve_device(pipe.device)).eval()


# -- stages ------------------------------------------------------------------------------
def _column(values: list[Any]) -> np.ndarray:
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.asarray(values, dtype=bool)
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.float64)
    return np.asarray(["" if v is None else str(v) for v in values], dtype=str)


def load(pipe: "Pipeline", ctx: RunContext, _: dict) -> None:
    """Sample ids, metadata and scalar truth, read once (cheaply where the dataset can)."""
    ds = ctx.dataset
    describe = getattr(ds, "describe", None)
    ids, metas, truths = [], [], []
    with ctx.progress(total=len(ds), description="load") as bar:
        for i in range(len(ds)):
            if describe is not None:
                sid, meta, truth = describe(i)
            else:
                sample = ds[i]
                sid, meta, truth = sample.id, sample.meta, sample.truth
            ids.append(sid)
            metas.append(meta)
            truths.append({k: v for k, v in truth.items() if k in SCALAR_TRUTH})
            bar.advance()
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        from .errors import DataError

        raise DataError(f"dataset '{pipe.cfg.dataset.name}': sample id {dup!r} occurs more than once")
    w = ctx.store.writer("load", "samples")
    w.write("id", np.asarray(ids, dtype=str))
    for key in meta_keys(ds):
        w.write(f"meta/{key}", _column([m.get(key) for m in metas]))
    for key in truth_keys(ds):
        if key in SCALAR_TRUTH and all(key in t for t in truths):
            w.write(f"truth/{key}", _column([t[key] for t in truths]))
    w.attrs.update(
        channels=list(ds.channels), set_axis=ds.set_axis, set_size=int(ds.set_size), set_labels=list(set_labels(ds)),
        image_size=list(ds.image_size), classes=list(dataset_classes(ds) or []), n=len(ds),
    )
    w.commit()


def _model(pipe: "Pipeline", ctx: RunContext, holder: dict) -> Any:
    if "model" not in holder:
        holder["model"] = load_trained_model(pipe, ctx.dataset)
    return holder["model"]


def pretrain(pipe: "Pipeline", ctx: RunContext, holder: dict) -> None:
    """Let the encoder train itself (U-Net on pseudo-labels) when it can."""
    model = _model(pipe, ctx, holder)
    encoder = model.encoder
    if not hasattr(encoder, "pretrain"):
        return
    encoder.train()
    metrics = encoder.pretrain(ctx) or {}
    encoder.eval()
    save_weights(pipe.out, model)
    ctx.store.set_attrs("", pretrain_metrics=metrics)


def encode(pipe: "Pipeline", ctx: RunContext, holder: dict) -> None:
    """Tokens (N, S, D) and human-designed features (N, S, F), chunk by chunk, resumable."""
    import torch

    from .model import encode_grouped, pooled_tokens

    model = _model(pipe, ctx, holder)
    encoder = model.encoder.eval()
    device = next(model.parameters()).device
    n, s = len(ctx.dataset), ctx.dataset.set_size
    names = list(getattr(encoder, "handcrafted_names", []) or []) if hasattr(encoder, "handcrafted") else []
    size = pipe.cfg.chunk_size
    w = ctx.store.writer("encode", "features", keep_partial=True)
    tokens = w.create_array("tokens", (n, s, encoder.out_dim), "float32", chunks=(size, s, encoder.out_dim))
    side = w.create_array("handcrafted", (n, s, len(names)), "float32", chunks=(size, s, max(len(names), 1)), attrs={"names": names}) if names else None
    done = ctx.store.progress("encode", -(-n // size))
    finished = done.done()
    with ctx.progress(total=n, description="encode", completed=int(sum(min(size, n - c * size) for c in np.flatnonzero(finished)))) as bar:
        for c, (start, stop) in enumerate(chunks(n, size)):
            if finished[c]:
                continue
            for b0, b1 in chunks(stop - start, pipe.cfg.batch_size):
                idx = np.arange(start + b0, start + b1)
                _, images = load_batch(ctx.dataset, idx)
                x = torch.from_numpy(images).to(device)
                with torch.no_grad():
                    t = encode_grouped(encoder, x)
                    if t.shape[1] != s:
                        t = pooled_tokens(t, s)
                    tokens[idx[0]:idx[-1] + 1] = t.float().cpu().numpy()
                    if side is not None:
                        side[idx[0]:idx[-1] + 1] = encoder.handcrafted(x).float().cpu().numpy()
                bar.advance(len(idx))
            done.mark(c)
    w.commit()


def fuse(pipe: "Pipeline", ctx: RunContext, holder: dict) -> None:
    """Train the fusion on frozen tokens when it can, then the fused vector per sample."""
    import torch

    model = _model(pipe, ctx, holder)
    fusion = model.fusion
    tokens = ctx.store.read("features/tokens")
    side = ctx.side_features()
    metrics: dict[str, Any] = {}
    if pipe.cfg.task == "cluster" and hasattr(fusion, "fit"):
        fusion.train()
        metrics = fusion.fit(tokens, side, ctx) or {}
        save_weights(pipe.out, model)
    fusion.eval()
    device = next(model.parameters()).device
    w = ctx.store.writer("fuse", "features")
    fused_arr = None
    aux_arrs: dict[str, Any] = {}
    att_arr = None
    n = len(tokens)
    for start, stop in chunks(n, 256):
        t = torch.from_numpy(tokens[start:stop]).to(device)
        sd = torch.from_numpy(side[start:stop]).to(device) if side is not None else None
        with torch.no_grad():
            fused = fusion(t, sd)
            att = getattr(fusion, "attention", None)
            aux = fusion.auxiliary(t, sd) if hasattr(fusion, "auxiliary") else {}
        if fused_arr is None:
            fused_arr = w.create_array("fused", (n, fused.shape[1]), "float32", attrs={"metrics": metrics})
            if isinstance(att, torch.Tensor):
                att_arr = w.create_array("attention", (n, *att.shape[1:]), "float32")
            names = getattr(fusion, "auxiliary_names", {}) or {}
            for key, value in aux.items():
                aux_arrs[key] = w.create_array(f"aux/{key}", (n, *value.shape[1:]), "float32", attrs={"names": list(names.get(key, []))})
        fused_arr[start:stop] = fused.float().cpu().numpy()
        if att_arr is not None and isinstance(att, torch.Tensor):
            att_arr[start:stop] = att.float().cpu().numpy()
        for key, value in aux.items():
            aux_arrs[key][start:stop] = value.float().cpu().numpy()
    w.commit()


def cluster(pipe: "Pipeline", ctx: RunContext, holder: dict) -> None:
    """Cluster the fused features; store labels, a 2-D embedding, exemplars and quality."""
    from .clustering import cluster_features

    X = ctx.store.read("features/fused")
    w = ctx.store.writer("cluster", "clusters")
    cluster_features(pipe, ctx, X, w)
    w.commit()


def classify(pipe: "Pipeline", ctx: RunContext, holder: dict) -> None:
    """Stratified k-fold training and evaluation, then the final model for explanations."""
    from .classify import run_classify

    ctx.extras["build_model"] = lambda: pipe.build_model(ctx.dataset, with_head=len(dataset_classes(ctx.dataset) or ()))
    w = ctx.store.writer("classify", "predictions")
    result = run_classify(ctx, w)
    w.commit()
    model = result["model"]
    save_weights(pipe.out, model)
    holder.pop("model", None)


def _made_by(explainer: Any, device: str) -> str:
    """What an explainer's results depend on besides the finished run: its class, params and the device."""
    params = getattr(explainer, "params", None)
    params = params.model_dump(mode="json") if hasattr(params, "model_dump") else params
    kind = f"{type(explainer).__module__}.{type(explainer).__qualname__}"
    return json.dumps({"explainer": kind, "params": params, "device": str(device)}, sort_keys=True, default=repr)


def explain(pipe: "Pipeline", ctx: RunContext, name: str, explainer: Any, holder: dict) -> None:
    """One explainer into ``explanations/<name>``; an explainer that marks chunks done resumes.

    Partial work (``_partial/explain.<name>`` and its chunk marks) is kept only when the
    same explainer made it with the same params on the same device; otherwise (e.g. left
    by a killed ``cellxai explain`` with other params) the explainer starts over. An
    explainer that writes whole arrays simply overwrites the kept partial arrays.
    """
    made_by = _made_by(explainer, ctx.device)
    w = ctx.store.writer(f"explain:{name}", f"explanations/{name}", keep_partial=True, made_by=made_by)
    explainer.run(ctx, w)
    w.commit()


# -- results.csv -------------------------------------------------------------------------
def write_results(pipe: "Pipeline", store: Any, dataset: Any) -> None:
    """One row per sample: id, Metadata_* columns, cluster or class, text explanation."""
    ids = store.read("samples/id")
    columns: dict[str, np.ndarray] = {"id": ids}
    for key in meta_keys(dataset):
        if store.has(f"samples/meta/{key}"):
            columns[f"Metadata_{key}"] = store.read(f"samples/meta/{key}")
    for key in SCALAR_TRUTH:
        if store.has(f"samples/truth/{key}"):
            columns[f"Truth_{key}"] = store.read(f"samples/truth/{key}")
    if pipe.cfg.task == "cluster":
        labels = store.read("clusters/labels")
        columns["cluster"] = labels
        if store.has("explanations/template-text/text"):
            texts = store.read("explanations/template-text/text")
            ids_k = store.attrs("explanations/template-text").get("clusters", list(range(len(texts))))
            lookup = {int(k): str(t) for k, t in zip(ids_k, texts)}
            columns["explanation"] = np.asarray([lookup.get(int(k), "") for k in labels], dtype=object)
    else:
        proba = store.read("predictions/proba")
        classes = store.attrs("predictions/proba").get("classes") or store.attrs("predictions").get("classes") or [str(i) for i in range(proba.shape[1])]
        columns["class"] = np.asarray([classes[i] for i in proba.argmax(axis=1)], dtype=object)
        for j, name in enumerate(classes):
            columns[f"proba_{name}"] = proba[:, j]
    tmp = pipe.out / "results.csv.tmp"
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(columns))
        for row in zip(*columns.values()):
            writer.writerow([v.item() if isinstance(v, np.generic) else v for v in row])
    os.replace(tmp, pipe.out / "results.csv")
