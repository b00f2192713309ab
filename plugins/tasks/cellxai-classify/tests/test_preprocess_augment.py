import pytest
import torch
import torch.nn.functional as F

from cellxai_classify.augment import affine_matrices, random_affine
from cellxai_classify.config import PreprocessSpec
from cellxai_classify.preprocess import ZCAWhitening, perona_malik, preprocess, resample


def _step_image(noise: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    img = torch.zeros(1, 1, 1, 32, 32)
    img[..., 16:] = 0.8
    return img + noise * torch.randn(img.shape, generator=g)


def test_perona_malik_smooths_flat_regions_and_keeps_the_edge():
    noisy = _step_image(0.03)
    out = perona_malik(noisy, iterations=20, kappa=0.1, step=0.2)
    flat_before, flat_after = noisy[..., 2:30, 2:14].std(), out[..., 2:30, 2:14].std()
    assert flat_after < 0.4 * flat_before
    edge = out[..., 8:24, 17].mean() - out[..., 8:24, 14].mean()
    assert edge > 0.7  # a Gaussian blur of the same strength would spread the 0.8 step
    blurred = F.avg_pool2d(noisy[0], 7, 1, 3, count_include_pad=False)
    assert edge > blurred[..., 8:24, 17].mean() - blurred[..., 8:24, 14].mean() + 0.2
    assert torch.equal(perona_malik(noisy, iterations=0), noisy)
    assert abs(out.mean() - noisy.mean()) < 1e-3  # insulated borders: no intensity leaves the image


def test_preprocess_resamples_and_keeps_range():
    x = torch.rand(2, 3, 1, 40, 30)
    out = preprocess(x, PreprocessSpec(resample=24, diffusion={"iterations": 3}))
    assert out.shape == (2, 3, 1, 24, 24)
    assert out.min() >= 0 and out.max() <= 1
    assert resample(x, None) is x


def test_zca_whitens_the_training_samples_and_uses_only_their_statistics():
    g = torch.Generator().manual_seed(0)
    mixing = torch.randn(48, 48, generator=g)
    train = (torch.randn(200, 48, generator=g) @ mixing).reshape(200, 1, 3, 4, 4)
    zca = ZCAWhitening(epsilon=1e-4).fit(train)
    white = zca(train).reshape(200, -1).double()
    cov = white.T @ white / 200
    eps = 1e-4
    # sqrt(eps) * (C + eps)^-1/2 maps the covariance to eps * C / (C + eps): nearly eps * identity
    assert torch.allclose(cov, eps * torch.eye(48, dtype=torch.float64), atol=5e-6)
    test = torch.full((1, 1, 3, 4, 4), 5.0)
    assert torch.allclose(zca(test).reshape(-1), ((test.reshape(1, -1) - zca.mean) @ _matrix(zca).T).reshape(-1), atol=1e-3)


def _matrix(zca: ZCAWhitening) -> torch.Tensor:
    return torch.eye(zca.basis.shape[1]) + zca.basis.T @ torch.diag(zca.gain) @ zca.basis


@pytest.mark.parametrize("angle,shift", [(0.0, (5.0, 0.0)), (12.0, (0.0, 0.0)), (-13.0, (4.0, -6.0)), (90.0, (0.0, 0.0))])
def test_affine_follows_torchvision_geometry(angle, shift):
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    img = torch.zeros(1, 1, 40, 56)
    img[0, 0, 10:20, 5:30] = 1
    ref = TF.affine(img, angle=angle, translate=list(shift), scale=1.0, shear=[0.0, 0.0], interpolation=InterpolationMode.BILINEAR)
    theta = affine_matrices(torch.tensor([angle]), torch.tensor([shift]), 40, 56).float()
    out = F.grid_sample(img, F.affine_grid(theta, list(img.shape), align_corners=False), align_corners=False)
    assert (out - ref).abs().max() < 1e-4


def test_random_affine_moves_all_images_of_a_sample_together():
    x = torch.rand(6, 3, 1, 24, 24)
    x[:, 1] = x[:, 0]
    out = random_affine(x, 15.0, 5.0, torch.Generator().manual_seed(1))
    assert torch.allclose(out[:, 0], out[:, 1])  # same transform for every image of a sample
    assert not torch.allclose(out[0], x[0])
    assert not torch.allclose(out[0, 0] - x[0, 0], out[1, 0] - x[1, 0])  # different samples, different draws
    same = random_affine(x, 15.0, 5.0, torch.Generator().manual_seed(1))
    assert torch.equal(out, same)
    assert torch.equal(random_affine(x, 0.0, 0.0, torch.Generator()), x)


def test_input_transform_matches_training_inputs_and_reloads_from_a_state_dict():
    from cellxai_classify.config import ClassifySpec
    from cellxai_classify.preprocess import input_transform

    assert input_transform(ClassifySpec()) is None
    spec = ClassifySpec(preprocess={"resample": 12, "diffusion": {"iterations": 2}}, augment={"zca": True})
    raw = torch.rand(10, 1, 3, 16, 16)
    zca = ZCAWhitening(spec.augment.zca_epsilon).fit(preprocess(raw, spec.preprocess))
    fitted = input_transform(spec, zca)
    expected = zca(preprocess(raw, spec.preprocess))  # what the training loop feeds the model
    assert torch.allclose(fitted(raw), expected)
    reloaded = input_transform(spec)
    reloaded.load_state_dict(fitted.state_dict())
    assert torch.allclose(reloaded(raw), expected)


def test_flips_mirror_about_the_centre():
    img = torch.rand(1, 1, 12, 20)
    for flips, dims in (([-1, 1], [-1]), ([1, -1], [-2]), ([-1, -1], [-2, -1])):
        theta = affine_matrices(torch.zeros(1), torch.zeros(1, 2), 12, 20, torch.tensor([flips])).float()
        out = F.grid_sample(img, F.affine_grid(theta, list(img.shape), align_corners=False), align_corners=False)
        assert torch.allclose(out, torch.flip(img, dims), atol=1e-5)
    x = torch.rand(64, 1, 1, 8, 8)
    out = random_affine(x, 0.0, 0.0, torch.Generator().manual_seed(0), flip=True)
    same = torch.isclose(out, x).flatten(1).all(dim=1)
    assert 5 < int(same.sum()) < 30  # about a quarter of the samples drew no flip
