"""Faithfulness on the run's executor (issue #15): one task per chunk of the measured subsample.

The client writes a job (the subsample's positions, maps and targets, the explained head, the
params) and maps :func:`measure_chunk` over chunks of ``params.batch_size`` subsample positions;
each chunk (in this process, or on a Dask worker that rebuilt the run's context) reads its
samples (their truth masks too), runs the per-batch metrics of :mod:`.evaluate` on them and
writes the per-sample arrays to ``out/<chunk>/`` of the job; the client concatenates them in
chunk order, exactly as the in-process loop of batches does.

Randomness: chunk ``c`` draws its random maps and its per-sample noise seeds (ROAD, average
sensitivity) from a generator seeded ``seed + 1_000_003 c`` (chunk 0: the seed itself, as the
in-process loop's one generator), so a chunk's numbers do not depend on which chunks ran before
it, or where. The client derives the AUCs and ROAD scores from the returned arrays as before.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from cellxai_core.data import load_batch

from .jobs import job_array, job_attrs, job_path, map_chunks, new_job, write_job_array
from .params import FaithfulnessParams

JOB = "faithfulness"
FUNC = "cellxai_gradcam.faithfulness_chunks:measure_chunk"
CHUNK_SEED_STEP = 1_000_003


def chunk_generator(seed: int, chunk: int) -> torch.Generator:
    """The random-map generator of one chunk (chunk 0: ``seed``, as one in-process generator would start)."""
    return torch.Generator(device="cpu").manual_seed((int(seed) + CHUNK_SEED_STEP * int(chunk)) % 2**63)


def measure_chunked(ctx: Any, model: nn.Module, layer_name: str, maps: Any, targets: np.ndarray, indices: np.ndarray,
                    params: Any, seed: int, method: str = "gradcam") -> tuple[dict[str, np.ndarray], str | None, str | None, list[str]]:
    """Per-sample faithfulness arrays of the samples ``indices`` (sorted), measured chunk by chunk on ``ctx.executor``.

    ``model`` is the run's model with the explained head (the stored linear head for task cluster); ``maps`` the
    (N, S, H, W) maps (zarr or numpy) and ``targets`` (N,) the explained classes. Returns (arrays as
    ``evaluate._Batches.arrays()`` gives them, the mask kind or None, the side-feature mode, the randomised stages).
    """
    from .evaluate import _Batches, _rows

    store, rows = ctx.store, max(int(params.batch_size), 1)
    base = ctx.model()
    head = None if model.head is base.head else model.head
    if head is not None and not isinstance(head, nn.Linear):
        raise TypeError(f"faithfulness per chunk: the explained head must be the stored linear head, got {type(head).__name__}")
    indices = np.asarray(indices, dtype=np.int64)
    own = {k: v for k, v in params.model_dump(mode="json").items() if k in FaithfulnessParams.model_fields}  # not gradcam's
    new_job(store, JOB, params=own, layer=layer_name, method=method, seed=int(seed), rows=rows,
            head=head is not None)
    write_job_array(store, JOB, "indices", indices, rows)
    write_job_array(store, JOB, "maps", np.asarray(_rows(maps, indices)), rows)
    write_job_array(store, JOB, "targets", np.asarray(targets)[indices].astype(np.int64), rows)
    if head is not None:
        write_job_array(store, JOB, "head_weight", head.weight.detach().cpu().numpy().astype(np.float32))
        write_job_array(store, JOB, "head_bias", head.bias.detach().cpu().numpy().astype(np.float32))
    n_chunks = -(-len(indices) // rows)
    with ctx.progress(total=len(indices), description="faithfulness") as bar:
        for c in map_chunks(ctx, "faithfulness", range(n_chunks), FUNC, rows):
            bar.advance(min(rows, len(indices) - c * rows))
    acc, kinds, side_mode, stages = _Batches(), set(), None, []
    for c in range(n_chunks):  # chunk order: the arrays of the in-process loop
        group = f"{job_path(JOB)}/out/{c}"
        attrs = store.attrs(group)
        kinds.add(attrs["mask"])
        side_mode, stages = attrs["side_mode"], attrs["stages"]
        acc.add(**{name: store.read(f"{group}/{name}") for name in store.children(group)})
    store.remove(job_path(JOB))
    return acc.arrays(), (kinds.pop() if len(kinds) == 1 else None), side_mode, stages


def measure_chunk(ctx: Any, chunk: int, batches: Iterator[tuple[np.ndarray, Any]]) -> None:
    """One chunk of the subsample (here or on a Dask worker): every per-batch metric, written to ``out/<chunk>``.

    The executor's ``batches`` are the dataset's rows, not the subsample's: the chunk reads its own samples
    (their truth masks too) with ``load_batch``.
    """
    from .cam import grad_cam
    from .evaluate import RANDOMIZED_PARTS, _Batches, _measure_batch, _side_of
    from .faithfulness import cascading_randomizations, spearman_per_image
    from .modeling import head_from_arrays, side_tensor, with_head

    store, job = ctx.store, job_attrs(ctx.store, JOB)
    params, rows, seed = FaithfulnessParams(**job["params"]), int(job["rows"]), int(job["seed"])
    base = ctx.model()
    device = next(base.parameters()).device
    head = None
    if job["head"]:
        head = head_from_arrays(np.asarray(job_array(store, JOB, "head_weight")[...]), np.asarray(job_array(store, JOB, "head_bias")[...]), device)
    model = with_head(base, head)
    a = chunk * rows
    part = np.asarray(job_array(store, JOB, "indices")[a:a + rows])
    b = a + len(part)
    samples, images = load_batch(ctx.dataset, part)
    x = torch.from_numpy(images).to(device)
    kwargs = side_tensor(ctx, part, device)
    m = torch.from_numpy(np.asarray(job_array(store, JOB, "maps")[a:b]).astype(np.float32)).to(device)
    t = torch.as_tensor(np.asarray(job_array(store, JOB, "targets")[a:b]), dtype=torch.long, device=device)
    acc, layer, method = _Batches(), job["layer"], job["method"]
    kind = _measure_batch(model, x, m, t, kwargs, samples, params, chunk_generator(seed, chunk), acc, layer, method)
    randomized = cascading_randomizations(model, RANDOMIZED_PARTS, seed) if params.randomization else []
    if randomized:
        acc.add(spearman=np.stack([spearman_per_image(m.cpu().numpy(), grad_cam(
            r, r.get_submodule(layer), x, t, forward_kwargs=kwargs, method=method).cpu().numpy()) for _, r in randomized]))
    side_mode = "recomputed by the encoder" if callable(_side_of(model, kwargs)) else ("as stored" if kwargs else None)
    group = f"{job_path(JOB)}/out/{chunk}"
    store.set_attrs(group, mask=kind, side_mode=side_mode, stages=[name for name, _ in randomized])
    for name, value in acc.arrays().items():
        chunks = tuple(max(size, 1) for size in value.shape)
        store.root.create_array(f"{group}/{name}", shape=value.shape, dtype=value.dtype, chunks=chunks, overwrite=True)[...] = value
