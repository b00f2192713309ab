import cv2
import numpy as np
import pytest
import torch

from cellxai_core.errors import DataError
from cellxai_unet.hsv import as_rgb, otsu_thresholds, rgb_to_hsv, top_hat
from cellxai_unet.params import PseudoLabelParams
from cellxai_unet.pseudo import ObjectFinder
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
    finder = ObjectFinder(painted.objects, painted.channels)
    counter = ConfusionCounter(4)
    for i in range(4):
        sample = painted[i]
        counter.update(finder.labels(torch.from_numpy(sample.images)), torch.from_numpy(sample.truth["mask"]))
    metrics = counter.metrics(["background", *finder.names])
    for cell in finder.names:
        assert metrics[f"dc_{cell}"] >= 0.85, (cell, metrics[f"dc_{cell}"])


def test_thresholds_can_be_set_per_image_or_fixed(painted):
    images = torch.from_numpy(painted[0].images)
    assert ObjectFinder(painted.objects, painted.channels, PseudoLabelParams(threshold=1.0)).labels(images).max() == 0
    per_image = ObjectFinder(painted.objects, painted.channels, PseudoLabelParams(threshold="image")).labels(images)
    truth = torch.from_numpy(painted[0].truth["mask"])
    cancer, found = truth == 1, per_image == 1  # a class in every image: Otsu per image finds it
    assert 2 * (cancer & found).sum() / (cancer.sum() + found.sum()) > 0.85
    assert not ObjectFinder(painted.objects, painted.channels, PseudoLabelParams(threshold="image")).calibrate(images).get(
        "threshold_cancer")  # nothing to calibrate but the diameters


def test_classes_are_painted_later_over_earlier():
    """A nucleus declared after its cell wins where both are bright (the truth convention 1 cell, 2 nucleus)."""
    image = torch.zeros(1, 2, 40, 40)
    image[0, 0, 5:35, 5:35] = 0.6  # cell body in channel 0
    image[0, 1, 15:25, 15:25] = 0.9  # nucleus in channel 1
    objects = [{"name": "cell", "channel": 0, "diameter": 30}, {"name": "nucleus", "channel": 1, "diameter": 10}]
    from cellxai_core.datasets.objects import parse_objects

    finder = ObjectFinder(parse_objects(objects), ("actin", "dapi"), PseudoLabelParams(threshold=0.3))
    labels = finder.labels(image)[0]
    assert labels[20, 20] == 2 and labels[8, 8] == 1 and labels[0, 0] == 0
    area = finder.measure(image)[0, :2]
    assert abs(float(area[0]) - 900 / 1600) < 0.02 and abs(float(area[1]) - 100 / 1600) < 0.01  # each on its own mask


def test_colour_needs_rgb():
    with pytest.raises(DataError, match="3 channels"):
        as_rgb(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="threshold"):
        PseudoLabelParams(threshold=2.0)


def test_separable_square_max_equals_max_pool():
    from cellxai_unet.hsv import square_max as _square_max

    x = torch.rand(2, 1, 23, 31)
    for r in (1, 2, 5, 8):
        assert torch.equal(_square_max(x, r), torch.nn.functional.max_pool2d(x, 2 * r + 1, stride=1, padding=r))
