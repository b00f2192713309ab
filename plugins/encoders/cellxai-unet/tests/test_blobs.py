"""Counting and sizing objects: touching objects split, diameters estimated by scale selection."""

import cv2
import numpy as np
import pytest
import torch

from cellxai_unet.blobs import count_objects, distance_map, estimate_diameter, single_object_area


def discs(diameter: float, n: int, size: int, seed: int, touching: int = 0) -> tuple[np.ndarray, int]:
    """A noisy grey image of ``n`` separated discs (+ ``touching`` pairs of discs that touch)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size), np.float32)
    r = diameter / 2
    placed, tries = [], 0
    while len(placed) < n + 2 * touching and tries < 5000:
        tries += 1
        c = rng.uniform(diameter, size - 2 * diameter, 2)
        pair = len(placed) >= n
        centres = [c, c + (diameter, 0)] if pair else [c]
        if all(np.hypot(*(p - q)) > 2.2 * diameter for p in placed for q in centres):
            placed.extend(centres)
    for x, y in placed:
        cv2.circle(image, (int(round(x * 16)), int(round(y * 16))), int(round(r * 16)), 1.0, -1, cv2.LINE_AA, 4)
    image = cv2.GaussianBlur(image, (0, 0), 0.8) * 0.7 + 0.05 + rng.normal(0, 0.03, image.shape).astype(np.float32)
    return image, len(placed)


def test_two_touching_discs_count_as_two():
    mask = np.zeros((48, 64), np.uint8)
    cv2.circle(mask, (22, 24), 8, 1, -1)
    cv2.circle(mask, (38, 24), 8, 1, -1)  # centres one diameter apart: one connected component
    assert cv2.connectedComponents(mask)[0] - 1 == 1
    assert count_objects(torch.from_numpy(mask[None] > 0), 16.0).tolist() == [2.0]
    single = np.zeros_like(mask)
    cv2.ellipse(single, (30, 24), (11, 7), 0, 0, 360, 1, -1)  # one elongated object: its ridge has one top
    assert count_objects(torch.from_numpy(single[None] > 0), 16.0).tolist() == [1.0]


def test_counts_of_separated_and_touching_discs():
    images, truths = [], []
    for seed in range(4):
        image, n = discs(9.0, 6, 128, seed, touching=3)
        images.append(image > 0.4)
        truths.append(n)
    counts = count_objects(torch.from_numpy(np.stack(images)), 9.0)
    assert counts.tolist() == truths


def test_distance_map_is_close_to_euclidean():
    mask = np.zeros((41, 41), np.uint8)
    cv2.circle(mask, (20, 20), 12, 1, -1)
    ours = distance_map(torch.from_numpy(mask[None] > 0), 20)[0].numpy()
    ref = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    inside = mask > 0
    assert np.abs(ours[inside] - ref[inside]).max() <= 2.0


@pytest.mark.parametrize("diameter", [5.0, 8.0, 14.0, 24.0, 40.0])
def test_auto_diameter_within_a_quarter(diameter):
    size = int(max(128, 7 * diameter))
    stack = np.stack([discs(diameter, max(3, int(2500 / diameter**2)), size, seed)[0] for seed in range(3)])
    x = torch.from_numpy(stack)
    estimate = estimate_diameter(x - x.flatten(1).median(dim=1).values[:, None, None])
    assert abs(estimate / diameter - 1) <= 0.25, estimate


def test_a_clump_without_necks_counts_by_its_area():
    """A dense clump is one blob with one distance maximum; with the calibrated area of one object it counts its area."""
    mask = np.zeros((1, 96, 96), np.uint8)
    cv2.circle(mask[0], (48, 48), 24, 1, -1)  # as large as 9 objects of diameter 16
    cv2.circle(mask[0], (10, 10), 8, 1, -1)  # and one single object
    m = torch.from_numpy(mask > 0)
    assert count_objects(m, 16.0).tolist() == [2.0]  # maxima alone: the clump is one
    single = single_object_area(m, 16.0)
    assert abs(single - np.pi * 8.5**2) < 40  # the lone object's area (its component holds one maximum)
    assert count_objects(m, 16.0, single_area=single).tolist() == [10.0]
