"""Runs made once per session with the real pipeline: a clustering of RGB microwells (with Grad-CAM
when the gradcam plugin is installed) and a classification of two-stain samples."""

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
