from collections import defaultdict

import numpy as np
import pytest

from cellxai_classify.metrics import METRICS
from cellxai_core.errors import ConfigError

from classify_toy import MemoryWriter, ToyCells, make_ctx, tiny_model_factory


def run_classify(ctx, out, trace=None):
    """The task's cross-validation without saving the model (no run directory here)."""
    return ctx.task_impl.cross_validate(ctx, out, trace=trace)


class Recorder:
    def __init__(self) -> None:
        self.events: dict[tuple[str, int], set[int]] = defaultdict(set)

    def __call__(self, event: str, fold: int, indices: np.ndarray) -> None:
        self.events[(event, fold)].update(int(i) for i in indices)


def test_cross_validation_writes_out_of_fold_predictions_and_never_leaks():
    ds = ToyCells(n=30, size=16)
    spec = {"folds": 3, "epochs": 1, "schedule": "cosine", "augment": {"copies": 2, "zca": True, "flip": True}}
    ctx = make_ctx(ds, spec, mc_samples=4)
    out, trace = MemoryWriter(), Recorder()
    result = run_classify(ctx, out, trace=trace)

    fold = out.arrays["fold"]
    assert fold.shape == (30,) and set(fold.tolist()) == {0, 1, 2}
    held_out = [trace.events[("predict", k)] for k in range(3)]
    assert sum(len(h) for h in held_out) == 30 and set().union(*held_out) == set(range(30))  # each sample once
    for k in range(3):
        test = set(np.flatnonzero(fold == k).tolist())
        assert held_out[k] == test
        assert not test & trace.events[("train", k)]  # no test sample, original or augmented, in training
        assert not test & trace.events[("augment", k)]
        assert not test & trace.events[("fit_zca", k)]  # whitening fitted on the training fold only
        assert trace.events[("train", k)] == set(range(30)) - test
    assert trace.events[("train", -1)] == set(range(30))  # the kept model sees every sample

    proba = out.arrays["proba"]
    assert proba.shape == (30, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    assert np.array_equal(out.arrays["pred"], proba.argmax(axis=1))
    attrs = out.attrs
    assert attrs["classes"] == ["normal", "metastatic"] and attrs["folds"] == 3
    assert len(attrs["fold_metrics"]) == 3 and set(attrs["metrics"]) == set(METRICS)
    aucs = [m["auc_macro"] for m in attrs["fold_metrics"]]
    assert attrs["metrics"]["auc_macro"]["mean"] == pytest.approx(np.mean(aucs))
    assert result["metrics"]["auc_macro"] == pytest.approx(np.mean(aucs))
    assert result["metrics"]["auc_macro_sd"] == pytest.approx(np.std(aucs, ddof=1))
    for name in ("normal", "metastatic", "micro"):
        assert out.arrays[f"roc/{name}/fpr"].shape == out.arrays[f"roc/{name}/tpr"].shape
    mean, std, ent = (out.arrays[f"uncertainty/{k}"] for k in ("mean", "std", "entropy"))
    assert mean.shape == std.shape == (30, 2) and ent.shape == (30,)
    assert np.allclose(mean.sum(axis=1), 1, atol=1e-5)
    assert std.max() > 0  # dropout is active in the MC passes
    assert np.all(ent >= 0) and np.all(ent <= np.log(2) + 1e-6)
    assert result["model"].training is False and result["input_transform"] is not None
    assert result["model"].transform is result["input_transform"] and result["input_transform"].zca.fitted
    assert out.array_attrs["proba"]["classes"] == ["normal", "metastatic"]  # where schema.classes reads them


def test_same_seed_same_predictions_and_a_learnable_task_is_learned():
    ds = ToyCells(n=40, size=16, set_axis="channel")
    spec = {"folds": 2, "epochs": 6, "lr": 0.05, "final_model": "none", "augment": {"copies": 0}}
    first, second = MemoryWriter(), MemoryWriter()
    run_classify(make_ctx(ds, spec, seed=5), first)
    run_classify(make_ctx(ds, spec, seed=5), second)
    assert np.array_equal(first.arrays["proba"], second.arrays["proba"])
    assert first.attrs["metrics"]["auc_macro"]["mean"] >= 0.9


def test_mc_dropout_without_dropout_layers_is_a_config_error():
    ds = ToyCells(n=12, size=8)
    ctx = make_ctx(ds, {"folds": 2}, mc_samples=3, build=tiny_model_factory(3, dropout=0.0))
    with pytest.raises(ConfigError, match="no dropout layer"):
        run_classify(ctx, MemoryWriter())


def test_reading_per_batch_gives_the_cached_results():
    ds = ToyCells(n=12, size=8)
    spec = {"folds": 2, "epochs": 1, "final_model": "none", "preprocess": {"diffusion": {"iterations": 2}}}
    cached, streamed = MemoryWriter(), MemoryWriter()
    run_classify(make_ctx(ds, spec), cached)
    run_classify(make_ctx(ds, {**spec, "cache": False}), streamed)
    assert np.allclose(cached.arrays["proba"], streamed.arrays["proba"], atol=1e-6)
