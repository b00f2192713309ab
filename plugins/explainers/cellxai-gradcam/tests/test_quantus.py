"""The faithfulness metrics agree with Quantus 0.6 (within 1e-3) on the same model, inputs and maps.

Correspondences (Quantus configured to cellxai's definitions):

- deletion = ``PixelFlipping(features_in_step = H * W / steps, perturb_baseline="black")`` (one
  channel; Quantus steps over every channel value, cellxai over pixels):
  Quantus' curve is ours without its first point (nothing deleted yet), sampled at dx = 1,
  so its AUC is ``steps * trapezoid(curve[1:], dx=1/steps)``.
- insertion = the same ``PixelFlipping`` on the black image with a perturbation that puts
  the original values back (Quantus has no insertion metric).
- relevance mass / rank accuracy = ``RelevanceMassAccuracy`` / ``RelevanceRankAccuracy`` with
  ``abs=False, normalise=False`` (the maps are already >= 0 and max-normalised).
- sparseness = ``Sparseness(abs=False, normalise=False)`` (Gini with 1e-7 added).
- randomisation similarity = ``quantus.similarity_func.correlation_spearman``.
- ROAD = ``ROAD(percentages, noise, abs=False, normalise=False)``: its scores are ours ``kept`` averaged
  over samples per percentage (LeRF = Quantus' ROAD of 3 - map: the same order reversed; it refuses negative maps). The imputation is also
  compared image by image with ``quantus.functions.perturb_func.noisy_linear_imputation``.
- average sensitivity = ``AvgSensitivity(nr_samples, lower_bound=radius, abs=False, normalise=False)`` with
  Grad-CAM as its ``explain_func``.

Noise: Quantus draws from numpy's global random state; we seed it and pass cellxai one
``RandomState`` with the same seed (for every sample: ours draw per sample from a generator each,
and one shared generator gives Quantus' order), so both add identical noise.

Ties: Quantus orders equal attributions with numpy's unstable argsort, cellxai in a seeded
random order; a map with ties (Grad-CAM's ReLU zeros) is given a 1e-6 random jitter first and
then both get the same jittered map.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cellxai_gradcam import grad_cam
from cellxai_gradcam.faithfulness import deletion_curves, energy_inside, spearman_per_image
from cellxai_gradcam.metrics import insertion_curves, rank_accuracy, sparseness
from cellxai_gradcam.road import impute, road_curves
from cellxai_gradcam.sensitivity import avg_sensitivity

quantus = pytest.importorskip("quantus")

STEPS, SIZE = 8, 16
KW = dict(disable_warnings=True, display_progressbar=False)


@pytest.fixture
def case():
    """Model, inputs, targets, jittered Grad-CAM maps and object masks (one channel: Quantus steps over pixels)."""
    torch.manual_seed(4)
    small_cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                              nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 4)).eval()
    x = torch.rand(6, 1, SIZE, SIZE)
    x[:, :, 4:10, 5:12] += 1.0  # a bright object the model can use
    y = small_cnn(x).argmax(dim=1)
    maps = grad_cam(small_cnn, small_cnn[3], x, y)
    maps = maps + 1e-6 * torch.rand(maps.shape, generator=torch.Generator().manual_seed(1))
    masks = torch.zeros(6, SIZE, SIZE, dtype=torch.int32)
    masks[:, 3:11, 4:13] = 1
    return small_cnn, x, y, maps, masks


def _numpy(*tensors):
    return [t.detach().numpy() for t in tensors]


def test_deletion_matches_pixel_flipping(case):
    model, x, y, maps, _ = case
    ours = deletion_curves(model, x, maps, y, steps=STEPS).numpy()
    xb, yb, ab = _numpy(x, y, maps[:, None])
    metric = quantus.PixelFlipping(features_in_step=SIZE * SIZE // STEPS, perturb_baseline="black", abs=False,
                                   normalise=False, **KW)
    ref = np.asarray(metric(model=model, x_batch=xb, y_batch=yb, a_batch=ab, device="cpu", softmax=True))
    np.testing.assert_allclose(ours[:, 1:], ref, atol=1e-3)
    # Quantus' AUC is np.trapz(curve, dx=1) (helpers.utils.calculate_auc), which numpy 2.4 removed: trapezoid is the same rule
    auc = float(np.trapezoid(ref, dx=1, axis=1).mean())
    assert abs(auc - STEPS * float(np.trapezoid(ours[:, 1:], dx=1 / STEPS, axis=1).mean())) < 1e-3


def test_insertion_matches_pixel_flipping_on_the_baseline(case):
    model, x, y, maps, _ = case
    ours = insertion_curves(model, x, maps, y, steps=STEPS).numpy()
    xb, yb, ab = _numpy(x, y, maps[:, None])
    original = xb.reshape(len(xb), -1)

    def restore(arr, indices, **_):
        out = arr.copy()
        rows = np.arange(len(arr))[:, None]
        out[rows, indices] = original[rows, indices]
        return out

    metric = quantus.PixelFlipping(features_in_step=SIZE * SIZE // STEPS, perturb_func=restore, abs=False,
                                   normalise=False, **KW)
    ref = np.asarray(metric(model=model, x_batch=np.zeros_like(xb), y_batch=yb, a_batch=ab, device="cpu", softmax=True))
    np.testing.assert_allclose(ours[:, 1:], ref, atol=1e-3)
    assert not np.allclose(ours[:, 1:], deletion_curves(model, x, maps, y, steps=STEPS).numpy()[:, 1:], atol=1e-3)


def test_localisation_and_sparseness_match(case):
    model, x, y, maps, masks = case
    xb, yb, ab = _numpy(x, y, maps[:, None])
    sb = masks[:, None].numpy()
    common = dict(model=model, x_batch=xb, y_batch=yb, a_batch=ab, device="cpu")
    mass = quantus.RelevanceMassAccuracy(abs=False, normalise=False, **KW)(s_batch=sb, **common)
    rank = quantus.RelevanceRankAccuracy(abs=False, normalise=False, **KW)(s_batch=sb, **common)
    gini = quantus.Sparseness(abs=False, normalise=False, **KW)(**common)
    np.testing.assert_allclose(energy_inside(maps, masks)[0].numpy(), mass, atol=1e-3)
    np.testing.assert_allclose(rank_accuracy(maps, masks).numpy(), rank, atol=1e-3)
    np.testing.assert_allclose(sparseness(maps).numpy(), gini, atol=1e-3)
    assert np.ptp(rank) > 0 or np.ptp(mass) > 0  # the case is not degenerate


def test_randomisation_similarity_matches(case):
    _, _, _, maps, _ = case
    other = torch.rand(maps.shape, generator=torch.Generator().manual_seed(2)) + maps
    ours = spearman_per_image(maps.numpy(), other.numpy())
    ref = [quantus.similarity_func.correlation_spearman(a.ravel(), b.ravel()) for a, b in zip(maps.numpy(), other.numpy())]
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_imputation_matches_noisy_linear_imputation():
    from quantus.functions.perturb_func import noisy_linear_imputation

    rng = np.random.default_rng(0)
    for channels, fraction in ((1, 0.1), (3, 0.5), (2, 0.9)):
        image = rng.random((channels, 12, 15)).astype(np.float32)
        removed = rng.permutation(12 * 15)[: int(fraction * 12 * 15)]
        np.random.seed(7)
        ref = noisy_linear_imputation(image, removed, noise=0.01)
        ours = impute(image, removed, 0.01, np.random.RandomState(7))
        np.testing.assert_allclose(ours, ref, atol=1e-5)
        assert np.abs(ours - image).reshape(channels, -1)[:, removed].max() > 0.05  # the removed pixels were replaced
        assert np.array_equal(np.delete(ours.reshape(channels, -1), removed, axis=1),
                              np.delete(image.reshape(channels, -1), removed, axis=1))


class Brightness(nn.Module):
    """Class 0 when the image's mean is above 0.6: removing bright pixels flips it, at a percentage set by the image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3))
        return torch.stack([10 * (mean - 0.6), torch.zeros_like(mean)], dim=1)


@pytest.mark.parametrize("lerf", [False, True])
def test_road_matches_quantus(lerf):
    """Brightness maps of a brightness classifier: MoRF flips the bright samples' class at different percentages."""
    torch.manual_seed(0)
    x = torch.rand(8, 1, SIZE, SIZE)
    x[:, :, 4:10, 5:12] += torch.linspace(0.3, 1.5, 8)[:, None, None, None]
    model = Brightness().eval()
    y = model(x).argmax(dim=1)
    maps = x[:, 0] + 1e-6 * torch.rand(x[:, 0].shape, generator=torch.Generator().manual_seed(1))
    percentages = [10, 30, 50, 70, 90]
    xb, yb, ab = _numpy(x, y, maps[:, None])
    metric = quantus.ROAD(percentages=percentages, noise=0.01, abs=False, normalise=False, **KW)
    np.random.seed(3)
    ref = metric(model=model, x_batch=xb, y_batch=yb, a_batch=3.0 - ab if lerf else ab, device="cpu", softmax=True)
    shared = np.random.RandomState(3)
    prob, kept = road_curves(model, x, maps, y, [shared] * len(x), percentages=percentages, lerf=lerf, noise=0.01)
    np.testing.assert_allclose(kept.float().mean(dim=0).numpy(), [ref[p] for p in percentages], atol=1e-3)
    assert prob.shape == (len(x), len(percentages)) and bool((prob[kept] >= 0.5).all())
    if not lerf:  # not degenerate: the curve falls, and not to nothing
        curve = kept.float().mean(dim=0).numpy()
        assert curve[0] > curve[-1] > 0


def test_avg_sensitivity_matches_quantus(case):
    model, x, y, maps, _ = case
    layer = model[3]

    def explain_func(model, inputs, targets, **_):
        return grad_cam(model, layer, torch.as_tensor(inputs), torch.as_tensor(targets)).detach().numpy()[:, None]

    xb, yb = _numpy(x, y)
    clean = grad_cam(model, layer, x, y)
    metric = quantus.AvgSensitivity(nr_samples=3, lower_bound=0.1, abs=False, normalise=False, **KW)
    np.random.seed(5)
    ref = np.asarray(metric(model=model, x_batch=xb, y_batch=yb, a_batch=clean[:, None].numpy(), device="cpu",
                            explain_func=explain_func))
    shared = np.random.RandomState(5)
    ours = avg_sensitivity(lambda p: grad_cam(model, layer, p, y), x, clean, [shared] * len(x), n_samples=3, radius=0.1)
    np.testing.assert_allclose(ours.numpy(), ref, atol=1e-3)
    assert (ours > 1e-3).all()  # the noise changed the maps
