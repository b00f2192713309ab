"""The example plugin: a real histogram, listed when installed, and usable in a pipeline."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import cellxai_core as cx
import cellxai_histogram.plugin as plugin
from cellxai_core.testing import use_plugins
from cellxai_histogram.encoder import IntensityHistogram


def test_histogram_counts_intensities_into_the_right_bins():
    enc = IntensityHistogram(bins=4, bandwidth=0.1, in_channels=2)
    images = torch.zeros(1, 2, 8, 8)
    images[0, 0, :, :4] = 0.1   # half the pixels in bin 0
    images[0, 0, :, 4:] = 0.9   # half in bin 3
    images[0, 1] = 0.6          # all in bin 2
    hist = enc(images).reshape(2, 4)
    assert torch.allclose(hist.sum(dim=1), torch.ones(2), atol=1e-5)
    assert torch.allclose(hist[0], torch.tensor([0.5, 0.0, 0.0, 0.5]), atol=1e-3)
    assert torch.allclose(hist[1], torch.tensor([0.0, 0.0, 1.0, 0.0]), atol=1e-3)


def test_registered_without_installing():
    with use_plugins(plugin) as reg:
        entry = reg.get("encoder", "intensity-histogram")
        assert entry.params.model_fields["bins"].default == 16
        enc = cx.load_component("encoder", "intensity-histogram", bins=8, in_channels=3)
        assert enc.out_dim == 24 and enc.cam_layer is enc.distance


def test_installed_plugin_is_listed_by_the_cli():
    cli = Path(sys.executable).with_name("cellxai")
    proc = subprocess.run([str(cli), "plugins", "list", "--kind", "encoder", "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows["intensity-histogram"]["distribution"] == "cellxai-histogram"
    assert rows["intensity-histogram"]["status"] == "ok"


def test_runs_inside_a_pipeline_with_gradcam(tmp_path):
    config = {
        "seed": 0, "device": "cpu", "task": "cluster", "batch_size": 8,
        "dataset": {"name": "synthetic-fluorescence", "params": {"n_cells": 16, "size": 48}},
        "encoder": {"name": "intensity-histogram", "params": {"bins": 8}},
        "fusion": {"name": "mean-pool"},
        "clusterer": {"name": "kmeans", "params": {"n_clusters": 2, "reduce": "none"}},
        "explainers": [{"name": "gradcam"}],
    }
    run = cx.run(config, out=tmp_path / "run")
    tokens = run.array("features/tokens")
    assert tokens.shape == (16, 1, 24)
    np.testing.assert_allclose(tokens.reshape(16, 3, 8).sum(axis=2), 1.0, atol=1e-4)
    assert set(run.labels.tolist()) == {0, 1}
    maps = run.array("explanations/gradcam/maps")
    assert maps.shape == (16, 1, 48, 48) and maps.dtype == np.float16
    assert float(maps.max()) <= 1.0 and float(maps.min()) >= 0.0
