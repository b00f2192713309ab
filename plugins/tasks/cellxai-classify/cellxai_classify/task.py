"""The classify task: stratified k-fold cross-validation, then the model the run keeps.

The pipeline runs it before encode (``trains_model``) with ``out`` writing under
``predictions/``. Every sample's ``proba`` comes from the fold where it was held out.
Each fold gets a fresh model from ``ctx.new_model()``, preprocessing is the same for all
samples, augmentation touches only training samples and ZCA is fitted on the training
fold alone. Afterwards (``classify.final_model: all``) one more model is trained on every
sample; it is saved with its fitted input transform, so encode and the explainers feed it
raw dataset images and it sees what it was trained on.
"""

from __future__ import annotations

import logging

from typing import Any, ClassVar, Mapping

import numpy as np
import torch

from cellxai_core import schema
from cellxai_core.context import RunContext
from cellxai_core.store import StageWriter
from cellxai_core.data import dataset_classes
from cellxai_core.errors import ConfigError, DataError
from cellxai_core.model import resolve_device

from .config import ClassifySpec, UncertaintySpec
from .folds import assign_folds, fold_indices
from .metrics import METRICS, classification_metrics, roc_points, summarize
from .preprocess import InputTransform, ZCAWhitening, input_transform
from .source import ImageSource
from .train import Trace, fit_zca, has_dropout, mc_dropout, predict_proba, train_model


log = logging.getLogger("cellxai")

def fold_seed(seed: int, fold: int) -> int:
    """An independent seed per fold (the final model uses fold = number of folds)."""
    return int(np.random.SeedSequence([int(seed) % (2**32), fold]).generate_state(1)[0])


class ClassifyTask:
    """``task: classify``: k-fold training and evaluation of encoder + fusion + a linear head."""

    trains_model: ClassVar[bool] = True
    prefix: ClassVar[str] = schema.PREDICTIONS

    def __init__(
        self,
        classify: ClassifySpec | Mapping[str, Any] | None = None,
        uncertainty: UncertaintySpec | Mapping[str, Any] | None = None,
    ) -> None:
        self.classify = ClassifySpec.model_validate(classify or {})
        self.uncertainty = UncertaintySpec.model_validate(uncertainty or {})

    def head_size(self, dataset: Any) -> int | None:
        """One output per class the dataset declares."""
        classes = dataset_classes(dataset)
        if not classes:
            raise DataError("classify: the dataset declares no classes; the classify task needs a dataset with classes")
        return len(classes)

    def input_transform(self) -> InputTransform | None:
        """The unfitted transform the saved model expects in front of it (None: identity)."""
        return input_transform(self.classify)

    def run(self, ctx: RunContext, out: StageWriter) -> None:
        """Cross-validate into ``predictions/``, then keep the final model with its fitted transform."""
        result = self.cross_validate(ctx, out)
        ctx.save_model(result["model"])

    def cross_validate(self, ctx: RunContext, out: StageWriter, trace: Trace = None) -> dict[str, Any]:
        """See :func:`run_classify`; nothing is saved (the tests call this directly)."""
        return run_classify(ctx, out, self.classify, self.uncertainty, trace)

    def columns(self, run: Any) -> dict[str, Any]:
        """``class`` (the argmax's name) and one ``proba_<class>`` column per class."""
        proba = run.store.read(schema.PROBA)
        classes = schema.classes(run.store)
        columns: dict[str, Any] = {"class": np.asarray([classes[i] for i in proba.argmax(axis=1)], dtype=object)}
        columns.update({f"proba_{name}": proba[:, j] for j, name in enumerate(classes)})
        return columns


def _fresh_model(ctx: RunContext, seed: int, device: torch.device) -> torch.nn.Module:
    """A new model for one fold, fed preprocessed (and whitened) images, so without its transform."""
    torch.manual_seed(seed)
    model = ctx.new_model().to(device)
    model.transform = None
    return model


class _Folds:
    """The out-of-fold results, filled fold by fold."""

    def __init__(self, n: int, k: int, mc_samples: int) -> None:
        self.proba = np.zeros((n, k), dtype=np.float32)
        self.mc = {name: np.zeros((n, k), np.float32) for name in ("mean", "std")} if mc_samples else {}
        self.entropy = np.zeros(n, dtype=np.float32)
        self.per_fold: list[dict[str, float]] = []
        self.losses: list[float] = []


def run_classify(
    ctx: RunContext, out: StageWriter, spec: ClassifySpec, unc: UncertaintySpec, trace: Trace = None
) -> dict[str, Any]:
    """Cross-validate, write ``predictions/*``, train the kept model.

    Returns {"model": the kept SampleModel (eval mode) whose ``transform`` is the fitted
    input transform (resampling, diffusion, fitted ZCA; None when preprocessing is off),
    "metrics": {name: mean, name_sd: sd}, "input_transform": that same transform}.
    """
    device = resolve_device(ctx.device)
    with ctx.progress(total=len(ctx.dataset), description="classify: reading images") as bar:
        source = ImageSource(ctx.dataset, spec, advance=bar.advance)
    fold = assign_folds(source.labels, spec.folds, ctx.seed, source.classes)
    results = _Folds(len(source), len(source.classes), unc.mc_samples)
    train_final = spec.final_model == "all"
    with ctx.progress(total=spec.epochs * (spec.folds + int(train_final)), description="classify: training") as bar:
        for k in range(spec.folds):
            model, zca = _one_fold(ctx, source, fold, k, spec, unc, device, results, bar.advance, trace)
        if train_final:
            seed, everyone = fold_seed(ctx.seed, spec.folds), np.arange(len(source))
            model = _fresh_model(ctx, seed, device)
            zca = fit_zca(source, everyone, spec, device, trace, -1)
            generator = torch.Generator().manual_seed(seed)
            train_model(model, source, everyone, spec, device, generator, zca, bar.advance, trace, -1)
    model.eval()
    model.transform = input_transform(spec, zca)
    summary = summarize(results.per_fold)
    _write(out, source.classes, fold, source.labels, results, summary, spec, unc)
    metrics = {name: summary[name]["mean"] for name in METRICS}
    metrics.update({f"{name}_sd": summary[name]["sd"] for name in METRICS})
    return {"model": model, "metrics": metrics, "input_transform": model.transform}


def _one_fold(
    ctx: RunContext, source: ImageSource, fold: np.ndarray, k: int, spec: ClassifySpec, unc: UncertaintySpec,
    device: torch.device, results: _Folds, advance: Any, trace: Trace,
) -> tuple[torch.nn.Module, ZCAWhitening | None]:
    """Train on every fold but ``k``, predict fold ``k`` (and its MC-dropout passes) into ``results``."""
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
    results.losses.append(train_model(model, source, train_idx, spec, device, generator, zca, advance, trace, k))
    results.proba[test_idx] = predict_proba(model, source, test_idx, spec.batch_size, device, zca, trace, k)
    results.per_fold.append(classification_metrics(source.labels[test_idx], results.proba[test_idx]))
    if unc.mc_samples:
        mean, std, ent = mc_dropout(model, source, test_idx, unc.mc_samples, spec.batch_size, device, seed, zca)
        results.mc["mean"][test_idx], results.mc["std"][test_idx], results.entropy[test_idx] = mean, std, ent
    log.info(f"classify fold {k + 1}/{spec.folds}: auc_macro {results.per_fold[-1]['auc_macro']:.3f}")
    return model, zca


def _write(
    out: StageWriter,
    classes: list[str],
    fold: np.ndarray,
    labels: np.ndarray,
    results: _Folds,
    summary: dict[str, dict[str, float]],
    spec: ClassifySpec,
    unc: UncertaintySpec,
) -> None:
    """predictions/{proba, pred, fold, roc/<class|micro>/{fpr,tpr,thresholds}, uncertainty/*} and the attrs.

    The class names go on ``proba`` (where :func:`cellxai_core.schema.classes` reads them)
    and, for readers of the group's summary, on ``predictions`` too.
    """
    proba, mc, entropy = results.proba, results.mc, results.entropy
    n, k = proba.shape
    out.create_array("proba", (n, k), "float32", attrs={"classes": list(classes)})[:] = proba
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
            "fold_metrics": results.per_fold,
            "train_loss": results.losses,
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
