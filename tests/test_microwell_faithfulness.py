"""Issue 5, judged on synthetic-microwell: Grad-CAM maps are on the cells and carry the evidence.

A small but real run of the microwell method (U-Net pre-trained on HSV pseudo-labels,
temporal attention, Affinity Propagation) with the ``gradcam`` explainer measuring its
own faithfulness. The full-size numbers come from ``benchmarks/bench_faithfulness.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import cellxai_core as cx
from cellxai_core.registry import get_registry

NEEDED = {"encoder": "unet", "fusion": "temporal-attention", "clusterer": "affinity-propagation", "explainer": "gradcam"}
MISSING = [f"{kind} '{name}'" for kind, name in NEEDED.items() if name not in get_registry().names(kind)]
pytestmark = pytest.mark.skipif(bool(MISSING), reason="needs these plugins installed: " + ", ".join(MISSING))

PIPELINE = {
    "seed": 0,
    "device": "cpu",
    "task": "cluster",
    "quality": False,
    "dataset": {"name": "synthetic-microwell", "params": {"n_wells": 32}},
    "encoder": {"name": "unet", "params": {"base_channels": 8, "depth": 3, "iterations": 150}},
    "fusion": {"name": "temporal-attention", "params": {"heads": 4, "dim": 32}},
    "clusterer": {"name": "affinity-propagation"},
    "explainers": [{"name": "gradcam", "params": {"faithfulness": True, "n_samples": 16, "randomization": False,
                                                      "road": False, "sensitivity_samples": 0}}],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return cx.run(PIPELINE, out=tmp_path_factory.mktemp("microwell") / "run")


@pytest.fixture(scope="module")
def faithfulness(run) -> dict:
    return run.store.attrs("explanations/gradcam")["faithfulness"]


def test_maps_are_graded_not_masks(run):
    """#14: the maps are computed on a graded layer; masks made them take <= 3 values (94 % of maps)."""
    maps = run.array("explanations/gradcam/maps").reshape(-1, *run.array("explanations/gradcam/maps").shape[-2:])
    distinct = [len(np.unique(m)) for m in maps if m.max() > 0]
    assert len(distinct) >= 0.5 * len(maps)
    assert np.median(distinct) >= 32 and np.mean(np.asarray(distinct) <= 3) < 0.05


def test_gradcam_energy_falls_inside_the_cell_masks(faithfulness):
    game = faithfulness["pointing_game"]
    # an image whose map is 0 everywhere (no positive evidence for the cluster on that day)
    # points nowhere and is left out: 7% of the maps on the demo run, 10-25% here (it
    # varies with the number of CPU threads, which changes the trained weights slightly)
    assert 0.5 * 16 * 5 <= game["n_images"] <= 16 * 5
    assert 0.05 < game["mask_area"] < 0.3  # cells cover a minority of the well
    # graded maps (#14): the energy inside the cells is not 1 by construction any more; a uniform map
    # would put mask_area inside (ratio 1), the demo measures 0.64 in masks covering 0.14 (4.6x)
    assert game["energy_inside"] >= 3 * game["mask_area"]


def test_deleting_salient_pixels_first_beats_a_random_map(faithfulness):
    deletion = faithfulness["deletion"]
    assert deletion["auc"] < deletion["random_auc"] - 0.1  # measured: 0.21 vs 0.65 (1 thread)
    assert deletion["fraction_below_random"] > 0.5  # most samples, not only on average (0.69-0.94 measured)
