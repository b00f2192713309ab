"""Faithfulness per chunk (faithfulness_chunks.py, the per-chunk work a Dask worker runs) against the in-process
loop of evaluate.measure_faithfulness on the same run: the same per-sample arrays."""

from __future__ import annotations

import numpy as np

from cellxai_gradcam.evaluate import _derived, measure_faithfulness
from cellxai_gradcam.faithfulness_chunks import measure_chunked
from cellxai_gradcam.gradcam_explainer import GradCAMExplainer
from cellxai_gradcam.modeling import head_from_arrays, with_head
from cellxai_gradcam.params import FaithfulnessParams

# no randomness: equal on every row; the others draw per chunk, so only chunk 0 equals the in-process generator's
EXACT = ("deletion_curve", "insertion_curve", "empty", "sparseness", "energy_inside", "mask_area", "rank_accuracy",
         "spearman", "other_sample_distance")


def test_chunks_give_the_in_process_arrays(make_run, explain):
    ctx = make_run("cluster")
    attrs = explain(ctx, "gradcam", GradCAMExplainer())
    store = ctx.store
    base = ctx.model()
    model = with_head(base, head_from_arrays(store.read("explanations/gradcam/head_weight"), store.read("explanations/gradcam/head_bias"), "cpu"))
    maps, targets = store.array("explanations/gradcam/maps"), store.read("explanations/gradcam/targets")
    params = FaithfulnessParams(n_samples=12, deletion_steps=4, batch_size=4)  # 3 chunks of 4 samples
    w = store.writer("explain:reference", "reference")
    summary = measure_faithfulness(ctx, model, attrs["layer"], maps, targets, params, w)
    w.commit()
    reference = {name: store.read(f"reference/{name}") for name in store.children("reference")}
    indices = reference.pop("indices")

    arrays, mask, side_mode, stages = measure_chunked(ctx, model, attrs["layer"], maps, targets, indices, params, seed=0)
    assert not store.has("_partial/faithfulness.job")  # the job is removed once read back
    _derived(derived := dict(arrays))  # AUCs and ROAD scores, as measure_faithfulness derives them
    assert sorted(derived) == sorted(reference)
    assert {*EXACT, "random_curve", "road_morf_prob", "sensitivity"} <= set(arrays)
    for name, value in derived.items():
        expected, got = reference[name], value.astype(reference[name].dtype)
        first = (slice(None), slice(0, 4)) if name == "spearman" else (slice(0, 4),)  # chunk 0: samples 0-3
        np.testing.assert_array_equal(got[first], expected[first], err_msg=name)
        if name in EXACT:
            np.testing.assert_array_equal(got, expected, err_msg=name)
    assert not np.array_equal(arrays["random_curve"][4:], reference["random_curve"][4:])  # chunks 1, 2: own seeds
    assert mask == summary["localisation"]["mask"] == "truth masks"
    assert side_mode == summary["deletion"]["side_features"] == "recomputed by the encoder"
    assert stages == summary["randomization"]["stages"] == ["head", "head+encoder"]
    assert arrays["deletion_curve"].shape == (12, 5) and arrays["spearman"].shape == (2, 12, 2)
