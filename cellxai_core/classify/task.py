"""The classify task: stratified k-fold cross-validation, then the model the run keeps.

Called by the pipeline as ``run_classify(ctx, out)`` with ``out`` writing under
``predictions/``. Every sample's ``proba`` comes from the fold where it was held out.
Each fold gets a fresh model (``ctx.extras["build_model"]()``), preprocessing is the same
for all samples, augmentation touches only training samples and ZCA is fitted on the
training fold alone. Afterwards (``classify.final_model: all``) one more model is trained
on every sample; it is the one saved for the explainers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..classify_config import ClassifySpec, UncertaintySpec
from ..context import RunContext, StageWriter
from ..errors import ConfigError
from ..model import resolve_device
from .folds import assign_folds, fold_indices
from .metrics import METRICS, classification_metrics, roc_points, summarize
from .preprocess import input_transform
from .source import ImageSource
from .train import Trace, fit_zca, has_dropout, mc_dropout, predict_proba, train_model


def fold_seed(seed: int, fold: int) -> int:
    """An independent seed per fold (the final model uses fold = number of folds)."""
    return int(np.random.SeedSequence([int(seed) % (2**32), fold]).generate_state(1)[0])


def _specs(ctx: RunContext) -> tuple[ClassifySpec, UncertaintySpec]:
    spec = getattr(ctx.config, "classify", None) or ClassifySpec()
    unc = getattr(ctx.config, "uncertainty", None) or UncertaintySpec()
    return spec, unc


def _fresh_model(ctx: RunContext, seed: int, device: torch.device) -> torch.nn.Module:
    build = ctx.extras.get("build_model")
    if build is None:
        raise RuntimeError("run_classify needs ctx.extras['build_model'] (the pipeline's model factory)")
    torch.manual_seed(seed)
    return build().to(device)


def run_classify(ctx: RunContext, out: StageWriter, trace: Trace = None) -> dict[str, Any]:
    """Cross-validate, write ``predictions/*``, train the kept model.

    Returns {"model": the kept SampleModel (eval mode), "metrics": {name: mean, name_sd: sd},
    "input_transform": an InputTransform the model expects raw samples to pass through
    first (resampling, diffusion, fitted ZCA), or None when preprocessing is off}.
    """
    spec, unc = _specs(ctx)
    device = resolve_device(ctx.device)
    with ctx.progress(total=ctx.n_samples, description="classify: reading images") as bar:
        source = ImageSource(ctx.dataset, spec, advance=bar.advance)
    classes, labels, n = source.classes, source.labels, len(source)
    fold = assign_folds(labels, spec.folds, ctx.seed, classes)

    proba = np.zeros((n, len(classes)), dtype=np.float32)
    mc = {k: np.zeros((n, len(classes)), np.float32) for k in ("mean", "std")} if unc.mc_samples else {}
    entropy = np.zeros(n, dtype=np.float32)
    per_fold: list[dict[str, float]] = []
    losses: list[float] = []
    train_final = spec.final_model == "all"
    total = spec.epochs * (spec.folds + int(train_final))
    model, zca = None, None
    with ctx.progress(total=total, description="classify: training") as bar:
        for k in range(spec.folds):
            seed = fold_seed(ctx.seed, k)
            train_idx, test_idx = fold_indices(fold, k)
            model = _fresh_model(ctx, seed, device)
            if unc.mc_samples and k == 0 and not has_dropout(model):
                raise ConfigError(
                    f"uncertainty.mc_samples is {unc.mc_samples} but the model has no dropout layer; "
                    "give the fusion a dropout > 0 or set uncertainty.mc_samples: 0"
                )
            generator = torch.Generator().manual_seed(seed)
            zca = fit_zca(source, train_idx, spec, device, trace, k)
            losses.append(train_model(model, source, train_idx, spec, device, generator, zca, bar.advance, trace, k))
            proba[test_idx] = predict_proba(model, source, test_idx, spec.batch_size, device, zca, trace, k)
            per_fold.append(classification_metrics(labels[test_idx], proba[test_idx]))
            if unc.mc_samples:
                mean, std, ent = mc_dropout(model, source, test_idx, unc.mc_samples, spec.batch_size, device, seed, zca)
                mc["mean"][test_idx], mc["std"][test_idx], entropy[test_idx] = mean, std, ent
            ctx.log(f"classify fold {k + 1}/{spec.folds}: auc_macro {per_fold[-1]['auc_macro']:.3f}")
        if train_final:
            seed = fold_seed(ctx.seed, spec.folds)
            everyone = np.arange(n)
            model = _fresh_model(ctx, seed, device)
            zca = fit_zca(source, everyone, spec, device, trace, -1)
            train_model(model, source, everyone, spec, device, torch.Generator().manual_seed(seed), zca, bar.advance, trace, -1)
    assert model is not None
    model.eval()

    summary = summarize(per_fold)
    _write(out, classes, proba, fold, labels, per_fold, summary, losses, spec, unc, mc, entropy)
    metrics = {name: summary[name]["mean"] for name in METRICS}
    metrics.update({f"{name}_sd": summary[name]["sd"] for name in METRICS})
    return {"model": model, "metrics": metrics, "input_transform": input_transform(spec, zca)}


def _write(
    out: StageWriter,
    classes: list[str],
    proba: np.ndarray,
    fold: np.ndarray,
    labels: np.ndarray,
    per_fold: list[dict[str, float]],
    summary: dict[str, dict[str, float]],
    losses: list[float],
    spec: ClassifySpec,
    unc: UncertaintySpec,
    mc: dict[str, np.ndarray],
    entropy: np.ndarray,
) -> None:
    """predictions/{proba, pred, fold, roc/<class|micro>/{fpr,tpr,thresholds}, uncertainty/*} and the attrs."""
    n, k = proba.shape
    out.create_array("proba", (n, k), "float32")[:] = proba
    out.create_array("pred", (n,), "int32")[:] = proba.argmax(axis=1).astype(np.int32)
    out.create_array("fold", (n,), "int32")[:] = fold
    for name, curve in roc_points(labels, proba, classes).items():
        for key, values in curve.items():
            out.create_array(f"roc/{name}/{key}", values.shape, "float32")[:] = values
    if unc.mc_samples:
        out.create_array("uncertainty/mean", (n, k), "float32")[:] = mc["mean"]
        out.create_array("uncertainty/std", (n, k), "float32")[:] = mc["std"]
        out.create_array("uncertainty/entropy", (n,), "float32")[:] = entropy
    out.attrs.update(
        _json_safe({
            "classes": list(classes),
            "folds": spec.folds,
            "metric_names": list(METRICS),
            "metrics": summary,
            "fold_metrics": per_fold,
            "train_loss": losses,
            "final_model": spec.final_model,
            "mc_samples": unc.mc_samples,
            "zca": spec.augment.zca,
        })
    )


def _json_safe(value: Any) -> Any:
    """NaN (an undefined metric) becomes None so the attrs stay valid JSON."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    return value
