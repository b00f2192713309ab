"""The classify task through the real pipeline: synthetic-fluorescence, the channel-attention plugin."""

import numpy as np
import pytest

import cellxai_core as cx
from cellxai_classify.compare import compare_runs

pytest.importorskip("cellxai_channel_attention")


def config(family: str) -> dict:
    dataset = {"name": "synthetic-fluorescence", "params": {"n_cells": 20, "size": 32}}
    if family == "rgb":  # isolated stains, a backbone per stain, channel attention
        dataset["params"]["set_axis"] = "channel"
        encoder = {"name": "backbone", "params": {"width": 4, "tokens": "spatial", "grid": 2, "branches": 3}}
        fusion = {"name": "channel-attention", "params": {"mlp": [16, 8]}}
    else:  # all stains in one backbone, self-attention over its spatial tokens
        encoder = {"name": "backbone", "params": {"width": 4, "tokens": "spatial", "grid": 2}}
        fusion = {"name": "self-attention", "params": {"mlp": [16, 8]}}
    return {
        "seed": 0, "device": "cpu", "task": "classify", "batch_size": 8,
        "dataset": dataset, "encoder": encoder, "fusion": fusion,
        "classify": {"folds": 2, "epochs": 1, "lr": 0.05, "batch_size": 8},
        "uncertainty": {"mc_samples": 3},
    }


def test_rgb_and_mhl_runs_and_their_comparison(tmp_path):
    runs = {family: cx.run(config(family), out=tmp_path / family) for family in ("rgb", "mhl")}
    for run in runs.values():
        proba = run.array("predictions/proba")
        assert proba.shape == (20, 2) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
        fold = run.array("predictions/fold")
        assert sorted(np.bincount(fold).tolist()) == [10, 10]
        assert run.array("predictions/uncertainty/entropy").shape == (20,)
        attrs = run.store.attrs("predictions")
        assert attrs["classes"] == ["normal", "metastatic"] and len(attrs["fold_metrics"]) == 2
        assert (run.path / "model.safetensors").exists()
    # same cells and seed: the two families are evaluated on the same folds
    assert np.array_equal(runs["rgb"].array("predictions/fold"), runs["mhl"].array("predictions/fold"))
    rows = compare_runs([runs["rgb"].path, runs["mhl"].path], "auc_macro")
    assert len(rows) == 1 and rows[0]["n_a"] == 2 and 0 <= rows[0]["p"] <= 1
