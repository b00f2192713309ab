import cv2
import numpy as np
import pytest
import torch

from cellxai_core.errors import DataError
from cellxai_unet.hsv import CELL_TYPES, otsu_thresholds, pseudo_labels, rgb_to_hsv, top_hat
from cellxai_unet.params import PseudoLabelParams
from cellxai_unet.segmetrics import ConfusionCounter


def test_rgb_to_hsv_matches_opencv():
    rng = np.random.default_rng(0)
    rgb = rng.random((2, 16, 16, 3), dtype=np.float32)
    h, s, v = rgb_to_hsv(torch.from_numpy(rgb).permute(0, 3, 1, 2))
    ref = np.stack([cv2.cvtColor(img, cv2.COLOR_RGB2HSV) for img in rgb])
    assert np.allclose(v.numpy(), ref[..., 2], atol=1e-6)
    assert np.allclose(s.numpy(), ref[..., 1], atol=1e-5)
    diff = np.abs(h.numpy() - ref[..., 0])
    assert np.minimum(diff, 360 - diff).max() < 1e-2


def test_otsu_matches_opencv():
    rng = np.random.default_rng(1)
    rows = []
    for _ in range(4):
        a = np.concatenate([rng.normal(60, 10, 700), rng.normal(170, 20, 300)]).clip(0, 255).astype(np.uint8)
        rows.append(a)
    ours = otsu_thresholds(torch.from_numpy(np.stack(rows) / 255.0))
    for a, t in zip(rows, ours):
        ref, _ = cv2.threshold(a.reshape(1, -1), 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        # the same pixels are foreground
        assert np.array_equal(a > ref, a / 255.0 > float(t))


def test_top_hat_removes_smooth_background():
    ramp = torch.linspace(0, 0.5, 40).repeat(40, 1)[None]
    spot = ramp.clone()
    spot[0, 20:23, 20:23] += 0.4
    th = top_hat(spot, radius=4)
    assert th[0, 21, 21] > 0.35
    assert th[0, :10, 4:-4].max() < 1e-6  # away from the border, a ramp is all background


def test_pseudo_labels_dice_on_painted_wells(painted):
    counter = ConfusionCounter(4)
    for i in range(4):
        sample = painted[i]
        labels = pseudo_labels(torch.from_numpy(sample.images))
        counter.update(labels, torch.from_numpy(sample.truth["mask"]))
    metrics = counter.metrics(("background",) + CELL_TYPES)
    for cell in CELL_TYPES:
        assert metrics[f"dc_{cell}"] >= 0.85, (cell, metrics[f"dc_{cell}"])


def test_thresholds_can_be_overridden(painted):
    images = torch.from_numpy(painted[0].images)
    assert pseudo_labels(images, PseudoLabelParams(v_threshold=1.0)).max() == 0
    everything_dead = pseudo_labels(images, PseudoLabelParams(s_threshold=1.0))
    assert set(everything_dead.unique().tolist()) <= {0, 3}
    swapped = pseudo_labels(images, PseudoLabelParams(cancer_hue=(300.0, 360.0)))
    default = pseudo_labels(images)
    assert ((default == 1) & (swapped != 2)).sum() == 0  # green cells become "other hue" = T cells


def test_non_rgb_images_are_a_data_error():
    with pytest.raises(DataError, match="3 channels"):
        pseudo_labels(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="cancer_hue"):
        PseudoLabelParams(cancer_hue=(200, 100))


def test_separable_square_max_equals_max_pool():
    from cellxai_unet.hsv import _square_max

    x = torch.rand(2, 1, 23, 31)
    for r in (1, 2, 5, 8):
        assert torch.equal(_square_max(x, r), torch.nn.functional.max_pool2d(x, 2 * r + 1, stride=1, padding=r))
