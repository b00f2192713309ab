"""Faithfulness of a run's Grad-CAM maps: ``cellxai evaluate RUN_DIR`` and ``gradcam`` with ``faithfulness: true``."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import numpy as np
import torch
from torch import nn

from cellxai_core.errors import NotApplicable, UserError

from .cam import grad_cam
from .faithfulness_chunks import measure_chunked
from .faithfulness import (BLUR_SIGMA_FRACTION, curve_auc, deletion_curves,
                           energy_inside)
from .metrics import insertion_curves, rank_accuracy, sparseness
from .modeling import head_from_arrays, with_head
from .params import FaithfulnessParams
from .road import road_curves
from .sensitivity import avg_sensitivity, other_sample_distance
from .verdicts import verdict_rows

RANDOMIZED_PARTS = ("head", "fusion", "encoder")  # cascading, top of the model first


def _rows(maps: Any, part: np.ndarray) -> np.ndarray:
    if isinstance(maps, np.ndarray):
        return maps[part]
    return np.asarray(maps.get_orthogonal_selection((part,)))


def _masks(samples: list[Any], model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor | None, str | None]:
    """Object masks of the batch (B, S, H, W) and what they are: truth masks, else the encoder's pseudo-labels."""
    if samples and all(s.truth.get("mask") is not None for s in samples):
        masks = np.stack([np.asarray(s.truth["mask"]) for s in samples])
        return torch.from_numpy(masks).to(x.device).reshape(*x.shape[:-3], *x.shape[-2:]), "truth masks"
    pseudo = getattr(getattr(model, "encoder", None), "pseudo_labels", None)
    if not callable(pseudo):
        return None, None
    with torch.no_grad():
        labels = pseudo(x.reshape(-1, *x.shape[-3:]))
    return labels.reshape(*x.shape[:-3], *x.shape[-2:]), "pseudo-label masks"


def _side_of(model: nn.Module, kwargs: dict[str, torch.Tensor]) -> Any:
    """Forward kwargs for perturbed images: side features recomputed by the encoder when it can."""
    handcrafted = getattr(getattr(model, "encoder", None), "handcrafted", None)
    if "side" not in kwargs or not callable(handcrafted):
        return kwargs
    return lambda images: {"side": handcrafted(images).to(kwargs["side"].dtype)}


class _Batches:
    """Per-sample / per-image results of every batch, concatenated at the end."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {}

    def add(self, **values: torch.Tensor | np.ndarray) -> None:
        for name, v in values.items():
            self.parts.setdefault(name, []).append(v.cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: np.concatenate(v, axis=-2 if name == "spearman" else 0) for name, v in self.parts.items()}


def _measure_batch(model: nn.Module, x: torch.Tensor, m: torch.Tensor, t: torch.Tensor, kwargs: dict, samples: list,
                   params: FaithfulnessParams, generator: torch.Generator, acc: _Batches, layer_name: str | None = None,
                   method: str = "gradcam") -> str | None:
    """Every per-sample metric on one batch of samples, added to ``acc``; returns what the masks are (None: no masks).

    :param x: (B, S, C, H, W) images on the model's device; ``m`` (B, S, H, W) their stored maps, ``t`` (B,) targets.
    :param kwargs: forward arguments (``side``); ``samples`` the dataset's samples (truth masks).
    :param generator: the random maps, then one noise seed per sample for ROAD and the sensitivity, are drawn from it.
    :param layer_name: the explained layer; None: no average sensitivity (it explains noisy inputs again).
    """
    perturbed = _side_of(model, kwargs)
    common = dict(steps=params.deletion_steps, baseline=params.deletion_baseline, forward_kwargs=perturbed)
    noise = torch.rand(m.shape, generator=generator).to(m.device)
    acc.add(deletion_curve=deletion_curves(model, x, m, t, **common), random_curve=deletion_curves(model, x, noise, t, **common),
            insertion_curve=insertion_curves(model, x, m, t, **common),
            random_insertion_curve=insertion_curves(model, x, noise, t, **common))
    empty = m.amax(dim=(-2, -1)) <= 0
    nan = torch.full(empty.shape, float("nan"), device=m.device)
    acc.add(empty=empty, sparseness=torch.where(empty, nan, sparseness(m)))
    rngs = [np.random.default_rng(int(s)) for s in torch.randint(0, 2**62, (len(x),), generator=generator)]
    if params.road:
        _road(model, x, m, noise, t, perturbed, rngs, params, acc)
    if layer_name is not None and params.sensitivity_samples > 0:
        _sensitivity(model, model.get_submodule(layer_name), method, x, t, perturbed, rngs, params, acc)
    masks, kind = _masks(samples, model, x)
    if masks is not None:
        energy, area = energy_inside(m, masks)
        acc.add(energy_inside=energy, mask_area=area, rank_accuracy=torch.where(empty, nan, rank_accuracy(m, masks)))
    return kind


def _road(model: nn.Module, x: torch.Tensor, m: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, perturbed: Any,
          rngs: list, params: FaithfulnessParams, acc: _Batches) -> None:
    """ROAD curves of the maps and of the random maps: target probability and kept prediction per percentage."""
    orders = (("morf", False), ("lerf", True)) if params.road_lerf else (("morf", False),)
    for name, maps in (("road", m), ("random_road", noise)):
        for order, lerf in orders:
            prob, kept = road_curves(model, x, maps, t, rngs, percentages=params.road_percentages, lerf=lerf,
                                     noise=params.road_noise, forward_kwargs=perturbed)
            acc.add(**{f"{name}_{order}_prob": prob, f"{name}_{order}_kept": kept})


def _sensitivity(model: nn.Module, layer: nn.Module, method: str, x: torch.Tensor, t: torch.Tensor, perturbed: Any,
                 rngs: list, params: FaithfulnessParams, acc: _Batches) -> None:
    """Average sensitivity of freshly computed maps (not the stored float16 ones) and its reference."""
    def explain(images: torch.Tensor) -> torch.Tensor:
        kwargs = perturbed(images) if callable(perturbed) else perturbed
        return grad_cam(model, layer, images, t, forward_kwargs=kwargs, method=method)

    clean = explain(x)
    acc.add(sensitivity=avg_sensitivity(explain, x, clean, rngs, n_samples=params.sensitivity_samples,
                                        radius=params.sensitivity_radius),
            other_sample_distance=other_sample_distance(clean))


def measure_faithfulness(
    ctx: Any,
    model: nn.Module,
    layer_name: str,
    maps: Any,
    targets: np.ndarray,
    params: FaithfulnessParams,
    out: Any = None,
    method: str = "gradcam",
) -> dict[str, Any]:
    """Deletion / insertion vs random maps, localisation, sparseness and cascading randomisation, with verdicts.

    ``maps`` is the (N, S, H, W) map array (zarr or numpy), ``targets`` (N,) the explained
    class per sample, measured on a seeded subsample. With a writer ``out``, per-sample
    arrays are written at its root.
    """
    seed = ctx.seed if params.seed is None else params.seed
    n = len(ctx.dataset)
    indices = np.sort(np.random.default_rng(seed).choice(n, size=min(params.n_samples, n), replace=False))
    arrays, mask, side_mode, stages = measure_chunked(ctx, model, layer_name, maps, targets, indices, params, seed, method)
    _derived(arrays)
    summary = _summary(arrays, indices, seed, params, side_mode, mask, stages)
    arrays["indices"] = indices.astype(np.int64)
    if out is not None:
        for name, value in arrays.items():
            value = value.astype(np.float32) if value.dtype.kind == "f" else value.astype(np.uint8) if value.dtype == bool else value
            out.create_array(name, value.shape, value.dtype, chunks=value.shape)[...] = value
    return summary


def _derived(arrays: dict[str, np.ndarray]) -> None:
    """Per-sample scores from the curves: deletion / insertion AUC, and ROAD's mean target probability over its
    percentages (NaN for a sample whose maps are all empty, the random maps' scores too, so that the paired tests
    compare the same samples: an empty map has no order of pixels to remove, only its random tie order)."""
    all_empty = arrays["empty"].reshape(len(arrays["empty"]), -1).all(axis=1)
    for curve in ("deletion", "random", "insertion", "random_insertion"):
        arrays[f"{curve}_auc"] = np.where(all_empty, np.nan, curve_auc(torch.from_numpy(arrays[f"{curve}_curve"])).numpy())
    for name in ("road_morf", "road_lerf", "random_road_morf", "random_road_lerf"):
        if f"{name}_prob" in arrays:  # the random maps' scores too: the verdict's means are over the same samples
            arrays[name] = np.where(all_empty, np.nan, arrays[f"{name}_prob"].mean(axis=1))


def _road_summary(arrays: dict[str, np.ndarray], params: FaithfulnessParams) -> dict[str, Any] | None:
    """ROAD settings, Quantus' accuracy curves (fraction of samples still predicted as the target) and the mean scores."""
    if "road_morf" not in arrays:
        return None
    ok = np.isfinite(arrays["road_morf"])
    out: dict[str, Any] = {"percentages": list(params.road_percentages), "noise": params.road_noise,
                           "imputation": "noisy linear (8 neighbours, Rong et al. 2022; Quantus ROAD)",
                           "score": "mean softmax probability of the target over the percentages",
                           "n_samples": int(ok.sum())}
    for order in ("morf", "lerf"):
        if f"road_{order}" in arrays:
            out[order] = {"accuracy": arrays[f"road_{order}_kept"][ok].mean(axis=0).tolist() if ok.any() else None,
                          "random_accuracy": arrays[f"random_road_{order}_kept"][ok].mean(axis=0).tolist() if ok.any() else None,
                          "score": float(np.mean(arrays[f"road_{order}"][ok])) if ok.any() else None,
                          "random_score": float(np.mean(arrays[f"random_road_{order}"][ok])) if ok.any() else None}
    return out


def _sensitivity_summary(arrays: dict[str, np.ndarray], params: FaithfulnessParams) -> dict[str, Any] | None:
    if "sensitivity" not in arrays:
        return None
    ok = np.isfinite(arrays["sensitivity"])
    mean = lambda a: float(np.mean(a[ok & np.isfinite(a)])) if (ok & np.isfinite(a)).any() else None  # noqa: E731
    return {"radius": params.sensitivity_radius, "n_perturbations": params.sensitivity_samples,
            "avg_sensitivity": mean(arrays["sensitivity"]), "other_sample_distance": mean(arrays["other_sample_distance"]),
            "definition": "mean ||a - a'|| / ||a|| over uniform input noise in [-r, r] (Yeh et al. 2019; Quantus AvgSensitivity)",
            "n_samples": int(ok.sum())}


def _summary(arrays: dict[str, np.ndarray], indices: np.ndarray, seed: int, params: FaithfulnessParams,
             side_mode: str | None, mask: str | None, stages: list[str]) -> dict[str, Any]:
    """The JSON record: the settings, the mean of every metric and the verdicts."""
    empty = arrays["empty"]
    mean = lambda name: float(np.nanmean(arrays[name])) if name in arrays and np.isfinite(arrays[name]).any() else None  # noqa: E731
    summary: dict[str, Any] = {
        "n_samples": int(len(indices)),
        "seed": int(seed),
        "deletion": {
            "score": "softmax probability of the explained target",
            "baseline": params.deletion_baseline,
            "side_features": side_mode,
            "blur_sigma": f"{BLUR_SIGMA_FRACTION} x image side" if params.deletion_baseline == "blur" else None,
            "steps": params.deletion_steps,
            "auc": mean("deletion_auc"),
            "random_auc": mean("random_auc"),
            "fraction_below_random": float(np.nanmean(np.where(np.isfinite(arrays["deletion_auc"]),
                                                               arrays["deletion_auc"] < arrays["random_auc"], np.nan))),
            "insertion_auc": mean("insertion_auc"),
            "random_insertion_auc": mean("random_insertion_auc"),
        },
        "localisation": None,
        "pointing_game": None,
        "sparseness": mean("sparseness"),
        "empty_maps": {"count": int(empty.sum()), "of": int(empty.size),
                       "why": "maps 0 everywhere: no positive evidence for the target at the layer; left out of localisation"},
        "randomization": None,
        "road": _road_summary(arrays, params),
        "sensitivity": _sensitivity_summary(arrays, params),
    }
    if mask is not None:
        summary["localisation"] = {"mask": mask, "relevance_mass": mean("energy_inside"), "rank_accuracy": mean("rank_accuracy"),
                                   "mask_area": mean("mask_area"), "n_images": int(np.isfinite(arrays["energy_inside"]).sum())}
        summary["pointing_game"] = {"energy_inside": mean("energy_inside"), "mask_area": mean("mask_area"), "mask": mask,
                                    "n_images": int(np.isfinite(arrays["energy_inside"]).sum())}
    if stages:
        summary["randomization"] = {
            "stages": stages,
            "spearman": {name: float(np.nanmean(r)) if np.isfinite(r).any() else None
                         for name, r in zip(stages, arrays["spearman"])},
            "note": "Spearman rho of stored maps vs maps of the randomised model, over maps that are not constant (an empty stored map has no ranking to compare)",
        }
    summary["verdicts"] = verdict_rows({**arrays, "stages": stages}, mask, int(empty.sum()), int(empty.size))
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
    if not store.has("explanations/gradcam/maps") and store.stage_status("explain:gradcam") == "skipped":
        raise NotApplicable("faithfulness: gradcam was skipped, so there are no maps to check")
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
        store.read("explanations/gradcam/targets"), params, out, method=attrs.get("method", "gradcam"),
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
