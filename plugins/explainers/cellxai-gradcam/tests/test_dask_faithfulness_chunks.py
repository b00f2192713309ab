"""Faithfulness per chunk (faithfulness_chunks.py, the per-chunk work a Dask worker runs): the per-sample arrays of
evaluate.measure_faithfulness on the same run (the arrays without randomness, and chunk 0's), and exactly those of
a loop over the same batches in which batch c draws from chunk c's generator."""

from __future__ import annotations

import numpy as np

import torch

from cellxai_core.data import load_batch
from cellxai_gradcam.cam import grad_cam
from cellxai_gradcam.evaluate import RANDOMIZED_PARTS, _Batches, _derived, _measure_batch, measure_faithfulness
from cellxai_gradcam.faithfulness import cascading_randomizations, spearman_per_image
from cellxai_gradcam.faithfulness_chunks import chunk_generator, measure_chunked
from cellxai_gradcam.gradcam_explainer import GradCAMExplainer
from cellxai_gradcam.modeling import head_from_arrays, side_tensor, with_head
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

    # every array, random ones included: the loop of batches with chunk c's generator is what the chunks compute
    acc, model_seed = _Batches(), 0
    randomized = cascading_randomizations(model, RANDOMIZED_PARTS, model_seed)
    for c, start in enumerate(range(0, 12, 4)):
        part = indices[start:start + 4]
        samples, images = load_batch(ctx.dataset, part)
        x, m = torch.from_numpy(images), torch.from_numpy(maps.get_orthogonal_selection((part,)).astype(np.float32))
        t, kwargs = torch.as_tensor(targets[part]), side_tensor(ctx, part, "cpu")
        _measure_batch(model, x, m, t, kwargs, samples, params, chunk_generator(model_seed, c), acc, attrs["layer"], "gradcam")
        acc.add(spearman=np.stack([spearman_per_image(m.numpy(), grad_cam(r, r.get_submodule(attrs["layer"]), x, t, forward_kwargs=kwargs)
                                                      .numpy()) for _, r in randomized]))
    expected = acc.arrays()
    assert sorted(expected) == sorted(arrays)
    for name, value in arrays.items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
    assert mask == summary["localisation"]["mask"] == "truth masks"
    assert side_mode == summary["deletion"]["side_features"] == "recomputed by the encoder"
    assert stages == summary["randomization"]["stages"] == ["head", "head+encoder"]
    assert arrays["deletion_curve"].shape == (12, 5) and arrays["spearman"].shape == (2, 12, 2)
