"""The classify task through the real pipeline, with the channel-attention plugin."""

import numpy as np
import pytest

import cellxai_core as cx
from cellxai_core.compare import compare_runs
from cellxai_core.testing import use_plugins

from classify_toy import ToyPlugin

pytest.importorskip("cellxai_channel_attention")


def config(family: str) -> dict:
    if family == "rgb":
        dataset = {"name": "toy-cells", "params": {"n": 24, "size": 16, "set_axis": "channel"}}
        encoder = {"name": "backbone", "params": {"width": 4, "tokens": "spatial", "grid": 2, "branches": 3}}
        fusion = {"name": "channel-attention", "params": {"mlp": [16, 8]}}
    else:
        dataset = {"name": "toy-cells", "params": {"n": 24, "size": 16}}
        encoder = {"name": "backbone", "params": {"width": 4, "tokens": "spatial", "grid": 2}}
        fusion = {"name": "self-attention", "params": {"mlp": [16, 8]}}
    return {
        "seed": 0, "device": "cpu", "task": "classify", "batch_size": 8,
        "dataset": dataset, "encoder": encoder, "fusion": fusion,
        "classify": {"folds": 2, "epochs": 2, "lr": 0.05, "batch_size": 8},
        "uncertainty": {"mc_samples": 3},
    }


def test_rgb_and_mhl_runs_and_their_comparison(tmp_path):
    with use_plugins(ToyPlugin(), installed=True):
        runs = {family: cx.run(config(family), out=tmp_path / family) for family in ("rgb", "mhl")}
    for family, run in runs.items():
        proba = run.array("predictions/proba")
        assert proba.shape == (24, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
        assert set(run.array("predictions/fold").tolist()) == {0, 1}
        assert run.array("predictions/uncertainty/entropy").shape == (24,)
        attrs = run.store.attrs("predictions")
        assert attrs["classes"] == ["normal", "metastatic"] and len(attrs["fold_metrics"]) == 2
        assert (run.path / "model.safetensors").exists()
    rows = compare_runs([runs["rgb"].path, runs["mhl"].path], "auc_macro")
    assert len(rows) == 1 and rows[0]["n_a"] == 2 and 0 <= rows[0]["p"] <= 1
