"""Runs made once per session with the real pipeline: a clustering of RGB microwells (with Grad-CAM
when the gradcam plugin is installed), a classification of two-stain samples, and a small
demo-like run (U-Net, temporal attention, Affinity Propagation, Grad-CAM) for the pseudo-labels."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import viewer_plugin  # noqa: E402

import cellxai_core as cx  # noqa: E402
from cellxai_core.testing import use_plugins  # noqa: E402


@pytest.fixture(autouse=True)
def viewer_registry():
    """The installed plugins plus the test components (the reader rebuilds datasets by name)."""
    with use_plugins(viewer_plugin, installed=True) as reg:
        yield reg


@pytest.fixture(scope="session")
def cluster_run(tmp_path_factory):
    with use_plugins(viewer_plugin, installed=True) as reg:
        cfg = copy.deepcopy(viewer_plugin.CLUSTER)
        if "gradcam" in reg.names("explainer"):
            cfg["explainers"] = [{"name": "gradcam", "params": {"head_max_iter": 20}}]
        return cx.run(cfg, out=tmp_path_factory.mktemp("runs") / "cluster")


@pytest.fixture(scope="session")
def classify_run(tmp_path_factory):
    with use_plugins(viewer_plugin, installed=True) as reg:
        if "classify" not in reg.names("task"):
            pytest.skip("the cellxai-classify plugin is not installed")
        return cx.run(copy.deepcopy(viewer_plugin.CLASSIFY), out=tmp_path_factory.mktemp("runs") / "classify")


UNET_NEEDS = {"encoder": "unet", "fusion": "temporal-attention", "clusterer": "affinity-propagation", "explainer": "gradcam"}
UNET = {  # examples/microwell.yaml in small: 12 wells of 64 px over 3 days, a U-Net of base 4 trained 10 steps
    "seed": 0,
    "device": "cpu",
    "task": "cluster",
    "batch_size": 8,
    "dataset": {"name": "synthetic-microwell", "params": {"n_wells": 12, "days": 3, "size": 64}},
    "encoder": {"name": "unet", "params": {"base_channels": 4, "depth": 2, "iterations": 10, "batch_size": 8}},
    "fusion": {"name": "temporal-attention", "params": {"heads": 2, "dim": 16, "epochs": 20}},
    "clusterer": {"name": "affinity-propagation"},
    "explainers": [{"name": "gradcam", "params": {"head_max_iter": 20}}],
}


@pytest.fixture(scope="session")
def unet_run(tmp_path_factory):
    """A demo-like run whose encoder makes pseudo-labels (needs the installed unet, affinity and gradcam plugins)."""
    with use_plugins(viewer_plugin, installed=True) as reg:
        missing = [f"{kind} '{name}'" for kind, name in UNET_NEEDS.items() if name not in reg.names(kind)]
        if missing:
            pytest.skip(f"not installed: {', '.join(missing)}")
        return cx.run(copy.deepcopy(UNET), out=tmp_path_factory.mktemp("runs") / "unet")
