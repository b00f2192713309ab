"""gradcam, gmean and faithfulness end to end on a tiny finished run with planted blobs."""

from __future__ import annotations

import numpy as np
import pytest

from cellxai_core.errors import ConfigError, UserError
from cellxai_gradcam.evaluate import FaithfulnessExplainer, evaluate_run
from cellxai_gradcam.gmean_explainer import GmeanExplainer
from cellxai_gradcam.gradcam_explainer import GradCAMExplainer

FAST = dict(n_samples=12, deletion_steps=8, batch_size=8)


def test_gradcam_cluster_maps_head_and_faithfulness(make_run, explain):
    ctx = make_run("cluster")
    attrs = explain(ctx, "gradcam", GradCAMExplainer(faithfulness=True, **FAST))
    store = ctx.store
    programs = store.read("samples/truth/program")

    maps = store.read("explanations/gradcam/maps")
    assert maps.shape == (24, 2, 24, 24) and maps.dtype == np.float16
    assert maps.min() >= 0 and maps.max() <= 1
    np.testing.assert_allclose(maps.reshape(48, -1).max(axis=1), 1.0, atol=1e-3)
    assert attrs["empty_maps_fraction"] == 0
    assert attrs["layer_reading"] is None  # this test encoder says nothing about how to read its maps

    assert attrs["head"]["accuracy"] >= 0.95 and attrs["head"]["n_noise"] == 1
    assert store.read("explanations/gradcam/head_weight").shape == (2, 8 + 2)  # fused = tokens + side
    targets = store.read("explanations/gradcam/targets")
    np.testing.assert_array_equal(targets[:-1], programs[:-1])  # own cluster
    assert targets[-1] in (0, 1)  # the noise sample: the head's top cluster
    assert store.read("explanations/gradcam/target_prob").min() > 0.5

    faith = attrs["faithfulness"]
    game = faith["pointing_game"]
    assert game["n_images"] == 24 and game["energy_inside"] > 0.5 and game["energy_inside"] > 4 * game["mask_area"]
    deletion = faith["deletion"]
    assert deletion["auc"] < deletion["random_auc"] - 0.05 and deletion["fraction_below_random"] >= 0.75
    rho = faith["randomization"]["spearman"]
    assert list(rho) == ["head", "head+encoder"]  # the mean fusion has no weights to randomise
    assert all(value < 0.8 for value in rho.values())
    assert store.read("explanations/gradcam/faithfulness/deletion_curve").shape == (12, 9)
    assert store.read("explanations/gradcam/faithfulness/spearman").shape == (2, 12, 2)

    # cellxai evaluate on the finished run: same numbers from the stored maps and head
    again = explain(ctx, "faithfulness", FaithfulnessExplainer(**FAST))
    assert again["deletion"] == deletion and again["pointing_game"] == game
    assert again["randomization"]["spearman"] == pytest.approx(rho)
    assert store.read("explanations/faithfulness/indices").tolist() == store.read("explanations/gradcam/faithfulness/indices").tolist()


def test_gradcam_is_deterministic_and_zero_baseline_also_beats_random(make_run, explain):
    ctx = make_run("cluster", n=16)
    explain(ctx, "gradcam", GradCAMExplainer(target="predicted"))
    first = ctx.store.read("explanations/gradcam/maps")
    explain(ctx, "gradcam", GradCAMExplainer(target="predicted"))
    np.testing.assert_array_equal(ctx.store.read("explanations/gradcam/maps"), first)
    summary = evaluate_run(ctx, params={"deletion_baseline": "zero", "randomization": False, "n_samples": 8, "deletion_steps": 5})
    assert summary["deletion"]["baseline"] == "zero" and summary["randomization"] is None
    assert summary["deletion"]["auc"] < summary["deletion"]["random_auc"]


def test_gradcam_classify_predicted_and_true_class(make_run, explain):
    ctx = make_run("classify", n=16)
    attrs = explain(ctx, "gradcam", GradCAMExplainer())
    assert attrs["target"] == "predicted class" and attrs["outputs"] == ["low", "high"]
    predicted = ctx.store.read("predictions/proba").argmax(axis=1)
    np.testing.assert_array_equal(ctx.store.read("explanations/gradcam/targets"), predicted)
    assert not ctx.store.has("explanations/gradcam/head_weight")  # the trained classifier is the head
    explain(ctx, "gradcam", GradCAMExplainer(target="true_class"))
    np.testing.assert_array_equal(ctx.store.read("explanations/gradcam/targets"), np.arange(16) % 2)
    attrs = explain(ctx, "gmean", GmeanExplainer())
    assert attrs["groups"] == ["low", "high"]


def test_gmean_of_identical_samples_is_the_sample(make_run, explain):
    ctx = make_run("cluster", identical=True)
    explain(ctx, "gradcam", GradCAMExplainer())
    attrs = explain(ctx, "gmean", GmeanExplainer())
    store = ctx.store
    shape, total = store.read("explanations/gmean/shape"), store.read("explanations/gmean/total")
    gradcam, rho = store.read("explanations/gmean/gradcam"), store.read("explanations/gmean/correlation")
    assert shape.shape == (2, 2, 2, 24, 24) and total.shape == gradcam.shape == rho.shape == (2, 2, 24, 24)
    assert store.read("explanations/gmean/count").tolist() == [12, 11]  # the last sample is noise
    maps = store.read("explanations/gradcam/maps").astype(np.float32)
    for g in (0, 1):
        image = ctx.dataset[g].images
        np.testing.assert_allclose(shape[g], image, atol=1e-5)
        np.testing.assert_allclose(total[g], image.mean(axis=1), atol=1e-5)
        np.testing.assert_allclose(gradcam[g], maps[g], atol=1e-5)
    assert not np.isnan(rho).any() and rho.min() >= -1 and rho.max() <= 1
    assert attrs["groups"] == ["cluster 0", "cluster 1"] and attrs["epsilon"] == pytest.approx(1 / 255)
    ratios = attrs["ratios"]["cluster 0"]
    assert ratios["positive"] == pytest.approx(float((rho[0] > 0.5).mean()))
    assert ratios["negative"] == pytest.approx(float((rho[0] < -0.5).mean()))
    assert ratios["positive"] > ratios["negative"], attrs["ratios"]  # the maps sit on the bright discs


def test_gmean_weights_by_target_probability(make_run, explain):
    ctx = make_run("cluster", n=8)
    explain(ctx, "gradcam", GradCAMExplainer())
    uniform = explain(ctx, "gmean", GmeanExplainer())
    weighted = explain(ctx, "gmean", GmeanExplainer(weights="target_prob", radius=1))
    assert uniform["weights"] == "uniform" and weighted["weights"] == "target_prob" and weighted["patch"] == "3x3"


def test_user_errors(make_run, explain):
    ctx = make_run("cluster", n=8)
    with pytest.raises(UserError, match="gradcam explainer first"):
        evaluate_run(ctx)
    with pytest.raises(ConfigError, match="true_class"):
        explain(ctx, "gradcam", GradCAMExplainer(target="true_class"))
    with pytest.raises(UserError, match="no module 'encoder.nope'"):
        explain(ctx, "gradcam", GradCAMExplainer(layer="encoder.nope"))
