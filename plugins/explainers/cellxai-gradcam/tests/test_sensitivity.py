"""Average sensitivity: its value on explainers whose answer is known, and a verdict that can fail."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cellxai_gradcam.evaluate import evaluate_run
from cellxai_gradcam.gradcam_explainer import GradCAMExplainer
from cellxai_gradcam.sensitivity import avg_sensitivity, other_sample_distance
from cellxai_gradcam.verdicts import paired_row


def _rngs(n, seed=0):
    return [np.random.default_rng([seed, i]) for i in range(n)]


def test_an_explainer_that_ignores_the_input_has_sensitivity_zero():
    x = torch.rand(5, 2, 8, 8)
    maps = torch.rand(5, 8, 8)
    assert torch.all(avg_sensitivity(lambda p: maps.clone(), x, maps, _rngs(5), n_samples=2, radius=0.1) == 0)


def test_the_identity_explainer_moves_by_the_noise():
    """explain(x) = x: ||noise|| / ||x||, with E||u||^2 = D r^2 / 3 for uniform noise in [-r, r]."""
    x = torch.full((4, 1, 30, 30), 0.5)
    out = avg_sensitivity(lambda p: p[:, 0], x, x[:, 0], _rngs(4), n_samples=3, radius=0.1)
    expected = np.sqrt(900 * 0.1**2 / 3) / np.sqrt(900 * 0.25)
    np.testing.assert_allclose(out.numpy(), expected, rtol=0.05)


def test_empty_maps_and_single_samples_are_nan():
    x = torch.rand(3, 1, 6, 6)
    maps = torch.rand(3, 6, 6)
    maps[1] = 0
    out = avg_sensitivity(lambda p: p[:, 0], x, maps, _rngs(3), n_samples=1, radius=0.1)
    assert torch.isnan(out[1]) and torch.isfinite(out[[0, 2]]).all()
    assert torch.isnan(other_sample_distance(maps[:1])).all()
    a = torch.zeros(2, 2, 2)
    a[0, 0, 0], a[1, 1, 1] = 3.0, 4.0
    np.testing.assert_allclose(other_sample_distance(a).numpy(), [5 / 3, 5 / 4])


def test_generators_must_match_the_batch():
    with pytest.raises(ValueError, match="2 random generators for 3 samples"):
        avg_sensitivity(lambda p: p[:, 0], torch.rand(3, 1, 4, 4), torch.rand(3, 4, 4), _rngs(2))


def test_a_noise_explainer_fails_the_verdict():
    """Maps that are fresh noise at every call move as much under the input noise as between samples: FAIL."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(20, 1, 12, 12)
    maps = torch.rand(20, 12, 12, generator=g)
    sens = avg_sensitivity(lambda p: torch.rand(20, 12, 12, generator=g), x, maps, _rngs(20), n_samples=3, radius=0.02)
    row = paired_row("average sensitivity below another sample's", sens.numpy(), other_sample_distance(maps).numpy(), True,
                     "the distance to another sample's map")
    assert row["passed"] is False and row["n"] == 20


def test_sensitivity_verdict_on_a_run(make_run, explain):
    """Grad-CAM of the planted blobs barely moves under noise of 0.02, far less than between two samples' maps."""
    ctx = make_run("cluster", n=16)
    explain(ctx, "gradcam", GradCAMExplainer())
    params = dict(n_samples=12, deletion_steps=4, randomization=False, road=False, sensitivity_samples=2)
    summary = evaluate_run(ctx, params=params)
    sens = summary["sensitivity"]
    assert sens["radius"] == 0.02 and sens["n_samples"] == 12
    assert 0 < sens["avg_sensitivity"] < 0.5 * sens["other_sample_distance"]
    row = {r["check"]: r for r in summary["verdicts"]}["average sensitivity below another sample's"]
    assert row["passed"] and row["p"] < 0.01
    louder = evaluate_run(ctx, params=dict(params, sensitivity_radius=0.3))["sensitivity"]
    assert louder["avg_sensitivity"] > sens["avg_sensitivity"]
    assert evaluate_run(ctx, params=dict(params, sensitivity_samples=0))["sensitivity"] is None
