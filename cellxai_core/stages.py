"""The work of each pipeline stage; each takes the run's one :class:`RunContext`. Torch is imported
inside the functions that need it. The task and explainers are plugins: called, not known, here."""

from __future__ import annotations

import csv
import json
import logging
import os
from typing import Any, Iterator

import numpy as np

from . import schema
from .api import open_run
from .context import RunContext
from .data import chunks, dataset_classes, meta_keys, set_labels, truth_keys
from .errors import DataError
from .progress import check_stop
from .store import PARTIAL

log = logging.getLogger("cellxai")
RESULTS = "results.csv"


def _column(values: list[Any]) -> np.ndarray:
    """A metadata or truth column: bool, int or float when every value is one, else text."""
    arr = np.asarray(values)
    return arr if arr.dtype.kind in "biuf" else np.asarray(["" if v is None else str(v) for v in values], dtype=str)


def load(ctx: RunContext) -> None:
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
            truths.append({k: v for k, v in truth.items() if k in schema.SCALAR_TRUTH})
            bar.advance()
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise DataError(f"dataset '{ctx.config.dataset.name}': sample id {dup!r} occurs more than once")
    w = ctx.store.writer("load", schema.SAMPLES)
    w.write("id", np.asarray(ids, dtype=str))
    keys = meta_keys(ds)
    for key in keys:
        w.write(f"meta/{key}", _column([m.get(key) for m in metas]))
    for key in truth_keys(ds):
        if key in schema.SCALAR_TRUTH and all(key in t for t in truths):
            w.write(f"truth/{key}", _column([t[key] for t in truths]))
    w.attrs.update(
        channels=list(ds.channels), set_axis=ds.set_axis, set_size=int(ds.set_size), set_labels=list(set_labels(ds)),
        image_size=list(ds.image_size), classes=list(dataset_classes(ds) or []), n=len(ds), meta_keys=list(keys),
        normalization=getattr(ds, "normalization", None),  # the intensity range a reader applied (docs/datasets.md)
    )
    w.commit()


def pretrain(ctx: RunContext) -> None:
    """Let the encoder train itself (U-Net on pseudo-labels) when it can."""
    model = ctx.model()
    encoder = model.encoder
    if not hasattr(encoder, "pretrain"):
        return
    encoder.train()
    metrics = encoder.pretrain(ctx) or {}
    encoder.eval()
    ctx.save_model(model)
    ctx.store.set_attrs("", pretrain_metrics=metrics)


def encode(ctx: RunContext) -> None:
    """Tokens (N, S, D) and human-designed features (N, S, F), chunk by chunk through the run's executor, resumable."""
    from .executors import LocalExecutor

    model = ctx.model()
    encoder = model.encoder
    n, s = len(ctx.dataset), ctx.dataset.set_size
    names = list(getattr(encoder, "handcrafted_names", []) or []) if hasattr(encoder, "handcrafted") else []
    size = min(ctx.config.chunk_size, n)  # zarr allocates whole chunks: chunk_size 10**8 on 6 samples was 9 GB
    w = ctx.store.writer("encode", schema.FEATURES, keep_partial=True)
    w.create_array("tokens", (n, s, encoder.out_dim), "float32", chunks=(size, s, encoder.out_dim))
    if names:
        w.create_array("handcrafted", (n, s, len(names)), "float32", chunks=(size, s, len(names)), attrs={"names": names})
    done = ctx.store.progress("encode", -(-n // size))
    todo = np.flatnonzero(~done.done()).tolist()
    executor = ctx.executor or LocalExecutor()
    with ctx.progress(total=n, description="encode", completed=n - sum(min(size, n - c * size) for c in todo)) as bar:
        for c in executor.map_chunks(ctx, "encode", todo, "cellxai_core.stages:encode_chunk", size):
            done.mark(c)
            bar.advance(min(size, n - c * size))
    w.commit()


def encode_chunk(ctx: RunContext, chunk: int, batches: Iterator[tuple[np.ndarray, Any]]) -> None:
    """One chunk of encode (here or on a worker): its rows of the partial arrays, written once."""
    import torch

    from .model import pooled_tokens

    model, s, part = ctx.model(), ctx.dataset.set_size, f"{PARTIAL}/encode/"
    device, side = next(model.parameters()).device, ctx.store.has(part + schema.HANDCRAFTED)
    rows, tokens, features = [], [], []
    for idx, images in batches:
        x = torch.as_tensor(images).to(device, non_blocking=True)
        with torch.no_grad():
            with ctx.autocast():
                t = model.tokens(x)
            tokens.append((t if t.shape[1] == s else pooled_tokens(t, s)).float().cpu().numpy())
            features += [model.encoder.handcrafted(x).float().cpu().numpy()] if side else []
        rows += idx.tolist()
        check_stop()
    for path, parts in ((schema.TOKENS, tokens), (schema.HANDCRAFTED, features)):
        if parts:
            ctx.store.array(part + path)[rows[0]:rows[-1] + 1] = np.concatenate(parts)


def fuse(ctx: RunContext) -> None:
    """Train the fusion on frozen tokens when it can (and the task did not train the model), then fuse."""
    import torch

    model = ctx.model()
    fusion = model.fusion
    tokens = ctx.store.read(schema.TOKENS)
    side = ctx.side_features()
    metrics: dict[str, Any] = {}
    if not ctx.task_impl.trains_model and hasattr(fusion, "fit"):
        fusion = model.fusion = ctx.new_model().fusion.to(next(model.parameters()).device)  # not on from a killed fit's
        fusion.train()
        metrics = fusion.fit(tokens, side, ctx) or {}
        ctx.save_model(model)
    fusion.eval()
    device = next(model.parameters()).device
    w = ctx.store.writer("fuse", schema.FEATURES)
    arrays: dict[str, Any] = {}
    n = len(tokens)
    for start, stop in chunks(n, 256):
        t = torch.from_numpy(tokens[start:stop]).to(device)
        sd = torch.from_numpy(side[start:stop]).to(device) if side is not None else None
        with torch.no_grad():
            outputs = {"fused": fusion(t, sd)}
            att = getattr(fusion, "attention", None)
            if isinstance(att, torch.Tensor):
                outputs["attention"] = att
            if hasattr(fusion, "auxiliary"):
                outputs.update({f"aux/{k}": v for k, v in fusion.auxiliary(t, sd).items()})
        if not arrays:
            names = getattr(fusion, "auxiliary_names", {}) or {}
            for key, value in outputs.items():
                attrs = {"metrics": metrics} if key == "fused" else {"names": list(names.get(key[4:], []))} if key.startswith("aux/") else None
                arrays[key] = w.create_array(key, (n, *value.shape[1:]), "float32", attrs=attrs)
        for key, value in outputs.items():
            arrays[key][start:stop] = value.float().cpu().numpy()
    w.commit()


def task(ctx: RunContext) -> None:
    """The task's own work (clustering, k-fold training) into its store group."""
    w = ctx.store.writer(ctx.task, ctx.task_impl.prefix)
    ctx.task_impl.run(ctx, w)
    w.commit()


def _made_by(explainer: Any, device: str) -> str:
    """What an explainer's results depend on besides the finished run: its class, params and the device."""
    params: Any = getattr(explainer, "params", None)
    params = params.model_dump(mode="json") if hasattr(params, "model_dump") else params
    kind = f"{type(explainer).__module__}.{type(explainer).__qualname__}"
    return json.dumps({"explainer": kind, "params": params, "device": str(device)}, sort_keys=True, default=repr)


def explain(ctx: RunContext, name: str, explainer: Any) -> None:
    """One explainer into ``explanations/<name>``; one that marks chunks done resumes, from partial work kept only
    when :func:`_made_by` matches (else, e.g. after a killed ``cellxai explain`` with other params, it starts over)."""
    made_by = _made_by(explainer, ctx.device)
    w = ctx.store.writer(f"explain:{name}", schema.explanation(name), keep_partial=True, made_by=made_by)
    explainer.run(ctx, w)
    w.commit()


def write_results(ctx: RunContext) -> None:
    """``results.csv``: id, Metadata_*, Truth_*, the task's columns, then each plugin's registered columns."""
    run = open_run(ctx.run_dir, allow_incomplete=True)
    columns: dict[str, Any] = {"id": schema.ids(ctx.store)}
    columns.update({f"Metadata_{k}": v for k, v in schema.meta_columns(ctx.store).items()})
    columns.update({f"Truth_{k}": v for k, v in schema.truth_columns(ctx.store).items()})
    columns.update(ctx.task_impl.columns(run))
    registry = ctx.builder.registry if ctx.builder is not None else None
    for reg in registry.components("section") if registry is not None else []:
        target = reg.options.get("columns")
        if target and ctx.task in reg.options.get("tasks", (ctx.task,)):
            try:
                columns.update(reg.load(target)(run) or {})
            except Exception as exc:  # a plugin's extra columns must not cost the run its results
                log.warning("results.csv: columns of %s skipped: %s: %s", reg.name, type(exc).__name__, exc)
    tmp = ctx.run_dir / (RESULTS + ".tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(list(columns))
        for row in zip(*columns.values()):
            writer.writerow([v.item() if isinstance(v, np.generic) else v for v in row])
    os.replace(tmp, ctx.run_dir / RESULTS)
