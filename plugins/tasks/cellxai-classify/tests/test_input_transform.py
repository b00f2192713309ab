"""Issue #11 item 6: the fitted input transform travels with the kept model.

The model is trained on resampled, ZCA-whitened images; encode and Grad-CAM read raw
dataset images. Before the fix the fitted transform was dropped, so ``features/tokens``
were the encoder on raw images, which the model had never seen. These tests run the real
pipeline on tiny in-process components (``classify_toy.ToyPlugin``).
"""

import csv

import numpy as np
import pytest
import torch

import cellxai_core as cx
from cellxai_core import schema
from cellxai_core.config import load_config
from cellxai_core.data import load_batch
from cellxai_core.model import encode_grouped
from cellxai_core.context import RunContext
from cellxai_core.testing import use_plugins

from cellxai_classify.preprocess import InputTransform, preprocess

from classify_toy import ToyPlugin

N = 12


def config(**classify) -> dict:
    return {
        "seed": 0, "device": "cpu", "task": "classify", "batch_size": 8, "threads": 1,
        "dataset": {"name": "toy-cells", "params": {"n": N, "size": 16}},
        "encoder": {"name": "tiny-conv"}, "fusion": {"name": "mean-drop"},
        "classify": {"folds": 2, "epochs": 1, "lr": 0.05, "batch_size": 8, "augment": {"copies": 0}, **classify},
    }


@pytest.fixture(scope="module")
def whitened(tmp_path_factory):
    """A finished run trained on 12 px resampled, ZCA-whitened images, and its model reloaded from the run."""
    cfg = config(preprocess={"resample": 12}, augment={"copies": 0, "zca": True})
    with use_plugins(ToyPlugin(), installed=True) as reg:
        run = cx.run(cfg, out=tmp_path_factory.mktemp("runs") / "zca")
        parsed, params = load_config(run.config, registry=reg)
        ctx = RunContext.open(parsed, params, run.path, reg)  # rebuilt from the run's own config, as `explain` does
        model = ctx.model()
    return run, ctx, model


def test_the_saved_model_has_the_fitted_transform(whitened):
    run, ctx, model = whitened
    from safetensors.torch import load_file

    saved = load_file(str(run.path / "model.safetensors"))
    assert {"transform.zca.mean", "transform.zca.basis", "transform.zca.gain"} <= set(saved)
    assert isinstance(model.transform, InputTransform) and model.transform.zca.fitted
    # final_model: all -> whitening fitted on every sample, after the same resampling as training
    _, raw = load_batch(ctx.dataset, range(N))
    prepared = preprocess(torch.from_numpy(raw), model.transform.spec)
    assert prepared.shape[-2:] == (12, 12)
    assert torch.allclose(model.transform.zca.mean, prepared.reshape(N, -1).mean(dim=0), atol=1e-5)


def test_encode_feeds_the_model_what_it_was_trained_on(whitened):
    run, ctx, model = whitened
    assert model.transform is not None, "the kept model lost its input transform"
    _, raw = load_batch(ctx.dataset, range(N))
    x = torch.from_numpy(raw)
    with torch.no_grad():
        expected = encode_grouped(model.encoder, model.transform(x)).numpy()
        untransformed = encode_grouped(model.encoder, x).numpy()
    tokens = run.array(schema.TOKENS)
    assert np.allclose(tokens, expected, atol=1e-5)
    assert not np.allclose(tokens, untransformed, atol=1e-3)


def test_classes_live_on_proba_and_name_the_results_columns(whitened):
    run, _, _ = whitened
    assert run.store.attrs(schema.PROBA)["classes"] == ["normal", "metastatic"]
    assert schema.classes(run.store) == ["normal", "metastatic"]
    with open(run.path / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == N and {"class", "proba_normal", "proba_metastatic"} <= set(rows[0])
    proba = run.array(schema.PROBA)
    assert [r["class"] for r in rows] == [["normal", "metastatic"][i] for i in proba.argmax(axis=1)]
    assert np.allclose([float(r["proba_metastatic"]) for r in rows], proba[:, 1], atol=1e-6)


def test_without_preprocessing_the_model_has_no_transform(tmp_path):
    with use_plugins(ToyPlugin(), installed=True) as reg:
        run = cx.run(config(), out=tmp_path / "plain")
        parsed, params = load_config(run.config, registry=reg)
        model = RunContext.open(parsed, params, run.path, reg).model()
    assert model.transform is None
    assert run.store.attrs(schema.PREDICTIONS)["zca"] is False
