"""Running geometric means and the patch-wise correlation image."""

from __future__ import annotations

import numpy as np
import torch

from cellxai_gradcam.gmean import GeometricMeanAccumulator, correlation_ratios, patch_correlation


def test_gmean_of_identical_images_is_the_image():
    torch.manual_seed(0)
    image = torch.rand(2, 3, 9, 7)
    image[0, 0, :3] = 0.0  # zeros stay zeros thanks to the subtracted epsilon
    acc = GeometricMeanAccumulator(1, tuple(image.shape), epsilon=1 / 255)
    for _ in range(3):  # streamed in several batches
        acc.add(torch.stack([image, image]), torch.zeros(2, dtype=torch.long))
    torch.testing.assert_close(acc.result()[0].float(), image, atol=1e-6, rtol=0)
    assert acc.count.tolist() == [6]


def test_weighted_gmean_matches_formula_per_group():
    rng = np.random.default_rng(1)
    x = rng.random((10, 4, 5))
    groups = np.array([0, 1, 0, 2, 1, 0, 2, 2, 1, 0])
    w = rng.random(10)
    eps = 1e-3
    acc = GeometricMeanAccumulator(4, (4, 5), eps)
    for sl in (slice(0, 4), slice(4, 10)):
        acc.add(torch.from_numpy(x[sl]), torch.from_numpy(groups[sl]), torch.from_numpy(w[sl]))
    got = acc.result().numpy()
    for g in range(3):
        sel = groups == g
        expected = np.exp((w[sel, None, None] * np.log(x[sel] + eps)).sum(0) / w[sel].sum()) - eps
        np.testing.assert_allclose(got[g], expected, rtol=1e-10, atol=1e-12)
    assert np.all(got[3] == 0)  # a group with no images


def test_correlation_of_identical_inputs_is_one_and_of_flat_patches_zero():
    torch.manual_seed(2)
    a = torch.rand(3, 12, 12)
    np.testing.assert_allclose(patch_correlation(a, a).numpy(), 1.0, atol=1e-6)
    np.testing.assert_allclose(patch_correlation(a, -a).numpy(), -1.0, atol=1e-6)
    flat = torch.full((12, 12), 0.3)
    rho = patch_correlation(flat, a[0])
    assert not torch.isnan(rho).any() and torch.all(rho == 0)
    zeros = torch.zeros(12, 12)
    assert torch.all(patch_correlation(zeros, zeros) == 0)


def test_patch_correlation_matches_direct_pearson():
    rng = np.random.default_rng(3)
    a, b = rng.random((10, 11)), rng.random((10, 11))
    rho = patch_correlation(torch.from_numpy(a), torch.from_numpy(b), radius=2).numpy()
    for i, j in [(0, 0), (5, 5), (9, 10), (3, 8)]:
        pa = a[max(i - 2, 0): i + 3, max(j - 2, 0): j + 3].ravel()
        pb = b[max(i - 2, 0): i + 3, max(j - 2, 0): j + 3].ravel()
        assert abs(rho[i, j] - np.corrcoef(pa, pb)[0, 1]) < 1e-5


def test_correlation_ratios_count_pixels_beyond_threshold():
    rho = torch.tensor([[0.9, 0.6, 0.5, -0.2], [-0.7, -0.51, 0.0, 1.0]])
    pos, neg = correlation_ratios(rho, 0.5)
    assert float(pos) == 3 / 8 and float(neg) == 2 / 8
