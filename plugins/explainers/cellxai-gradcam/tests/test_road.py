"""ROAD: the noisy linear imputation, and a verdict that passes on maps of the evidence and fails on inverted ones."""

from __future__ import annotations

import numpy as np
import pytest

from cellxai_gradcam.evaluate import evaluate_run, measure_faithfulness
from cellxai_gradcam.gradcam_explainer import GradCAMExplainer
from cellxai_gradcam.modeling import head_from_arrays, with_head
from cellxai_gradcam.params import FaithfulnessParams
from cellxai_gradcam.road import impute, neighbour_weights

ROAD_ONLY = dict(n_samples=16, deletion_steps=4, batch_size=8, randomization=False, sensitivity_samples=0,
                 road_percentages=[20.0, 50.0])


def test_imputation_of_a_ramp_is_exact_inside_and_keeps_the_rest():
    """A linear ramp is the weighted mean of its symmetric neighbours: removed interior pixels get it back."""
    yy, xx = np.mgrid[:10, :12]
    image = np.stack([0.1 * yy + 0.05 * xx, 0.3 + 0.02 * xx]).astype(np.float32)
    inner = (np.arange(10)[:, None] % 9 != 0) & (np.arange(12)[None] % 11 != 0)
    removed = np.flatnonzero(inner.ravel())[::2]
    filled = impute(image, removed, 0.0, None)
    np.testing.assert_allclose(filled, image, atol=1e-5)
    flat = filled.reshape(2, -1)
    flat[:, removed] = 0
    noisy = impute(flat.reshape(image.shape), removed, 0.5, np.random.default_rng(0))
    assert (noisy - image).reshape(2, -1)[:, removed].std() == pytest.approx(0.5, rel=0.2)  # the noise, not the ramp


def test_neighbour_weights_sum_to_one_inside():
    w = neighbour_weights(5, 6)
    degree = np.asarray(w.sum(axis=1)).reshape(5, 6)
    assert degree[1:-1, 1:-1] == pytest.approx(1.0) and degree[0, 0] == pytest.approx(1 / 6 + 1 / 6 + 1 / 12)
    assert (w != w.T).nnz == 0


def test_impute_refuses_to_remove_everything():
    with pytest.raises(ValueError, match="at least one pixel"):
        impute(np.zeros((1, 3, 3), np.float32), np.arange(9), 0.01, None)


def test_percentages_must_leave_pixels():
    with pytest.raises(ValueError, match="between 0 and 100"):
        FaithfulnessParams(road_percentages=[50, 100])


def _model(ctx):
    store = ctx.store
    head = head_from_arrays(store.read("explanations/gradcam/head_weight"), store.read("explanations/gradcam/head_bias"), "cpu")
    return with_head(ctx.model(), head)


def test_road_verdicts_pass_on_the_evidence_and_fail_on_inverted_maps(make_run, explain):
    """Planted blobs: removing the blobs' pixels (MoRF of Grad-CAM) drops the cluster's probability more than random
    pixels do; the inverted maps (background first) must fail the MoRF check and the LeRF check."""
    ctx = make_run("cluster")
    explain(ctx, "gradcam", GradCAMExplainer())
    summary = evaluate_run(ctx, params=ROAD_ONLY)
    rows = {r["check"]: r for r in summary["verdicts"]}
    assert rows["ROAD MoRF below random maps"]["passed"] and rows["ROAD LeRF above random maps"]["passed"]
    road = summary["road"]
    assert road["percentages"] == [20.0, 50.0] and road["n_samples"] == 16
    assert road["morf"]["score"] < road["morf"]["random_score"] < road["lerf"]["score"]
    assert len(road["morf"]["accuracy"]) == 2 and all(0 <= a <= 1 for a in road["morf"]["accuracy"])

    maps = ctx.store.read("explanations/gradcam/maps").astype(np.float32)
    targets = ctx.store.read("explanations/gradcam/targets")
    layer = ctx.store.attrs("explanations/gradcam")["layer"]
    inverted = measure_faithfulness(ctx, _model(ctx), layer, 1.0 - maps, targets, FaithfulnessParams(**ROAD_ONLY))
    rows = {r["check"]: r for r in inverted["verdicts"]}
    assert rows["ROAD MoRF below random maps"]["passed"] is False
    assert rows["ROAD LeRF above random maps"]["passed"] is False
    assert inverted["road"]["morf"]["score"] > road["morf"]["score"]


def test_road_is_reproducible_and_off_when_asked(make_run, explain):
    ctx = make_run("cluster", n=16)
    explain(ctx, "gradcam", GradCAMExplainer())
    params = dict(ROAD_ONLY, n_samples=6, road_lerf=False)
    first, second = evaluate_run(ctx, params=params), evaluate_run(ctx, params=params)
    assert first["road"] == second["road"] and "lerf" not in first["road"]
    off = evaluate_run(ctx, params=dict(params, road=False))
    assert off["road"] is None and not any(r["check"].startswith("ROAD") for r in off["verdicts"])
