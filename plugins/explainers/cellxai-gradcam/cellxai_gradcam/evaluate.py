"""Faithfulness of a run's Grad-CAM maps: ``cellxai evaluate RUN_DIR`` and ``gradcam`` with ``faithfulness: true``."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np
import torch
from torch import nn

from cellxai_core.data import chunks, load_batch
from cellxai_core.errors import UserError

from .cam import grad_cam
from .faithfulness import (BLUR_SIGMA_FRACTION, cascading_randomizations, curve_auc, deletion_curves,
                           energy_inside, spearman_per_image)
from .modeling import head_from_arrays, side_tensor, with_head
from .params import FaithfulnessParams

RANDOMIZED_PARTS = ("head", "fusion", "encoder")  # cascading, top of the model first


def _rows(maps: Any, part: np.ndarray) -> np.ndarray:
    if isinstance(maps, np.ndarray):
        return maps[part]
    return np.asarray(maps.get_orthogonal_selection((part,)))


def _masks(samples: list[Any]) -> np.ndarray | None:
    if not samples or not all(s.truth.get("mask") is not None for s in samples):
        return None
    return np.stack([np.asarray(s.truth["mask"]) for s in samples])


def _side_of(model: nn.Module, kwargs: dict[str, torch.Tensor]) -> Any:
    """Forward kwargs for perturbed images: side features recomputed by the encoder when it can."""
    handcrafted = getattr(getattr(model, "encoder", None), "handcrafted", None)
    if "side" not in kwargs or not callable(handcrafted):
        return kwargs
    return lambda images: {"side": handcrafted(images).to(kwargs["side"].dtype)}


def measure_faithfulness(
    ctx: Any,
    model: nn.Module,
    layer_name: str,
    maps: Any,
    targets: np.ndarray,
    params: FaithfulnessParams,
    out: Any = None,
) -> dict[str, Any]:
    """Deletion AUC vs random maps, pointing game, cascading randomisation on a seeded subsample.

    ``maps`` is the (N, S, H, W) map array (zarr or numpy), ``targets`` (N,) the explained
    class per sample. With a writer ``out``, per-sample arrays are written at its root.
    """
    device = next(model.parameters()).device
    seed = ctx.seed if params.seed is None else params.seed
    n = len(ctx.dataset)
    indices = np.sort(np.random.default_rng(seed).choice(n, size=min(params.n_samples, n), replace=False))
    generator = torch.Generator(device="cpu").manual_seed(seed)
    randomized = cascading_randomizations(model, RANDOMIZED_PARTS, seed) if params.randomization else []
    curves, random_curves, energies, areas = [], [], [], []
    rhos: list[list[np.ndarray]] = [[] for _ in randomized]
    side_mode = None
    with ctx.progress(total=len(indices), description="faithfulness") as bar:
        for start, stop in chunks(len(indices), params.batch_size):
            part = indices[start:stop]
            samples, images = load_batch(ctx.dataset, part)
            x = torch.from_numpy(images).to(device)
            kwargs = side_tensor(ctx, part, device)
            m = torch.from_numpy(_rows(maps, part).astype(np.float32)).to(device)
            t = torch.as_tensor(np.asarray(targets)[part], dtype=torch.long, device=device)
            perturbed_kwargs = _side_of(model, kwargs)
            side_mode = "recomputed by the encoder" if callable(perturbed_kwargs) else ("as stored" if kwargs else None)
            common = dict(steps=params.deletion_steps, baseline=params.deletion_baseline, forward_kwargs=perturbed_kwargs)
            curves.append(deletion_curves(model, x, m, t, **common).cpu())
            noise = torch.rand(m.shape, generator=generator).to(device)
            random_curves.append(deletion_curves(model, x, noise, t, **common).cpu())
            masks = _masks(samples)
            if masks is not None:
                energy, area = energy_inside(m, torch.from_numpy(masks).to(device))
                energies.append(energy.cpu())
                areas.append(area.cpu())
            for i, (_, rmodel) in enumerate(randomized):
                rmaps = grad_cam(rmodel, rmodel.get_submodule(layer_name), x, t, forward_kwargs=kwargs)
                rhos[i].append(spearman_per_image(m.cpu().numpy(), rmaps.cpu().numpy()))
            bar.advance(len(part))
    curve, random_curve = torch.cat(curves), torch.cat(random_curves)
    auc, random_auc = curve_auc(curve), curve_auc(random_curve)
    summary: dict[str, Any] = {
        "n_samples": int(len(indices)),
        "seed": int(seed),
        "deletion": {
            "score": "softmax probability of the explained target",
            "baseline": params.deletion_baseline,
            "side_features": side_mode,
            "blur_sigma": f"{BLUR_SIGMA_FRACTION} x image side" if params.deletion_baseline == "blur" else None,
            "steps": params.deletion_steps,
            "auc": float(auc.mean()),
            "random_auc": float(random_auc.mean()),
            "fraction_below_random": float((auc < random_auc).float().mean()),
        },
        "pointing_game": None,
        "randomization": None,
    }
    arrays: dict[str, np.ndarray] = {
        "indices": indices.astype(np.int64),
        "deletion_curve": curve.numpy().astype(np.float32),
        "random_curve": random_curve.numpy().astype(np.float32),
        "deletion_auc": auc.numpy().astype(np.float32),
        "random_auc": random_auc.numpy().astype(np.float32),
    }
    if energies:
        energy, area = torch.cat(energies).numpy(), torch.cat(areas).numpy()
        summary["pointing_game"] = {
            "energy_inside": float(np.nanmean(energy)),
            "mask_area": float(area.mean()),
            "mask": "truth mask > 0",
            "n_images": int(np.isfinite(energy).sum()),
        }
        arrays["energy_inside"] = energy.astype(np.float32)
        arrays["mask_area"] = area.astype(np.float32)
    if randomized:
        rho = np.stack([np.concatenate(r) for r in rhos])  # (stages, n, S)
        names = [name for name, _ in randomized]
        summary["randomization"] = {
            "stages": names,
            "spearman": {name: float(r.mean()) for name, r in zip(names, rho)},
            "note": "Spearman rho of stored maps vs maps of the randomised model; 0 where a map is constant",
        }
        arrays["spearman"] = rho.astype(np.float32)
    if out is not None:
        for name, value in arrays.items():
            out.create_array(name, value.shape, value.dtype, chunks=value.shape)[...] = value
    return summary


class PrefixedWriter:
    """Writes through another stage writer under a sub-path (``faithfulness/...``)."""

    def __init__(self, out: Any, prefix: str) -> None:
        self.out, self.prefix = out, prefix.strip("/")

    def create_array(self, path: str, *args: Any, **kwargs: Any) -> Any:
        return self.out.create_array(f"{self.prefix}/{path}", *args, **kwargs)


def evaluate_run(ctx: Any, out: Any = None, params: FaithfulnessParams | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Faithfulness of ``explanations/gradcam/maps`` in a finished run (needs the ``gradcam`` explainer's output).

    Rebuilds the explained model from the run (its encoder and fusion, and the stored
    linear head for task cluster), measures on a seeded subsample and returns the
    summary; with a writer ``out`` it also writes the per-sample arrays and the summary
    into ``out.attrs``.
    """
    params = params if isinstance(params, FaithfulnessParams) else FaithfulnessParams.model_validate(dict(params or {}))
    store = ctx.store
    if not store.has("explanations/gradcam/maps"):
        raise UserError(f"{ctx.run_dir}: no explanations/gradcam/maps; run the gradcam explainer first")
    attrs = store.attrs("explanations/gradcam")
    base = ctx.model()
    head = None
    if store.has("explanations/gradcam/head_weight"):
        device = next(base.parameters()).device
        head = head_from_arrays(store.read("explanations/gradcam/head_weight"), store.read("explanations/gradcam/head_bias"), device)
    model = with_head(base, head)
    summary = measure_faithfulness(
        ctx, model, attrs["layer"], store.array("explanations/gradcam/maps"),
        store.read("explanations/gradcam/targets"), params, out,
    )
    if out is not None:
        out.attrs.update(summary)
    return summary


class FaithfulnessExplainer:
    """``faithfulness``: deletion AUC, energy pointing game and randomisation of the Grad-CAM maps."""

    requires: ClassVar[tuple[str, ...]] = ("model", "images")
    after: ClassVar[tuple[str, ...]] = ("gradcam",)
    tasks: ClassVar[tuple[str, ...]] = ("cluster", "classify")

    def __init__(self, **params: Any) -> None:
        self.params = FaithfulnessParams(**params)

    def run(self, ctx: Any, out: Any) -> None:
        evaluate_run(ctx, out, self.params)
