"""The faithfulness metrics on cases with known answers."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from cellxai_core.model import SampleModel
from cellxai_gradcam.faithfulness import (blurred, cascading_randomizations, curve_auc, deletion_curves,
                                          energy_inside, pixel_ranks, randomize_, spearman_per_image)


class LeftHalf(nn.Module):
    """Scores class 0 by the brightness of the left half of the image, class 1 by a constant."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = x[..., : x.shape[-1] // 2].mean(dim=tuple(range(1, x.ndim))) * 20
        return torch.stack([left, torch.full_like(left, 5.0)], dim=1)


def test_pixel_ranks_order_by_saliency_and_ties_at_random():
    maps = torch.tensor([[[0.1, 0.9], [0.5, 0.5]]])
    assert pixel_ranks(maps, tie_seed=None).tolist() == [[[3, 0], [1, 2]]]
    ranks = pixel_ranks(maps)
    assert ranks[0, 0].tolist() == [3, 0] and sorted(ranks[0, 1].tolist()) == [1, 2]
    # a constant map (an empty Grad-CAM map) is a seeded shuffle, not the image's rows top to bottom
    flat = pixel_ranks(torch.zeros(1, 8, 8)).flatten().tolist()
    assert sorted(flat) == list(range(64)) and flat != list(range(64))
    assert flat == pixel_ranks(torch.zeros(1, 8, 8)).flatten().tolist()


def test_deletion_of_the_evidence_beats_random_deletion():
    torch.manual_seed(0)
    images = torch.rand(4, 1, 8, 8) * 0.2 + 0.8
    right_map = torch.zeros(4, 8, 8)
    right_map[..., :4] = 1 + torch.rand(4, 8, 4)  # the left half is what the model uses
    targets = torch.zeros(4, dtype=torch.long)
    model = LeftHalf()
    good = curve_auc(deletion_curves(model, images, right_map, targets, steps=8))
    rand = curve_auc(deletion_curves(model, images, torch.rand(4, 8, 8), targets, steps=8))
    wrong = curve_auc(deletion_curves(model, images, 1 - right_map, targets, steps=8))
    assert torch.all(good < rand) and torch.all(rand < wrong)
    curves = deletion_curves(model, images, right_map, targets, steps=4, baseline="blur")
    assert curves.shape == (4, 5) and torch.all(curves[:, 0] > 0.99)


def test_blur_keeps_shape_and_mean():
    x = torch.rand(2, 3, 3, 20, 16)
    out = blurred(x)
    assert out.shape == x.shape
    assert torch.allclose(out.mean(), x.mean(), atol=0.02) and out.std() < x.std()


def test_energy_inside_masks():
    maps = torch.zeros(3, 4, 4)
    maps[0, :2] = 1.0  # all energy in the top half
    maps[1] = 1.0  # uniform
    masks = torch.zeros(3, 4, 4, dtype=torch.int32)
    masks[:, :2] = 2
    energy, area = energy_inside(maps, masks)
    assert energy[0] == 1.0 and energy[1] == 0.5 and torch.isnan(energy[2])
    assert torch.all(area == 0.5)


def test_spearman_against_constant_maps():
    rng = np.random.default_rng(0)
    a = rng.random((2, 3, 5, 5))
    b = a.copy()
    b[1, 2] = 0.0
    rho = spearman_per_image(a, b)
    assert rho.shape == (2, 3) and np.allclose(rho[0], 1) and rho[1, 2] == 0  # the compared map lost its ranking
    assert np.isnan(spearman_per_image(b, a)[1, 2])  # an empty reference has none to compare
    assert np.allclose(spearman_per_image(a, -a), -1)


def test_randomisation_is_reproducible_and_cascades():
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    fusion = nn.Identity()
    model = SampleModel(encoder, fusion, nn.Linear(2, 2))
    model.encoder.extra = nn.Module()
    model.encoder.extra.scale = nn.Parameter(torch.arange(6.0))  # no reset_parameters: permuted
    stages = cascading_randomizations(model, ("head", "fusion", "encoder"), seed=3)
    assert [name for name, _ in stages] == ["head", "head+encoder"]  # Identity has no weights
    head_only, both = stages[0][1], stages[1][1]
    assert not torch.equal(head_only.head.weight, model.head.weight)
    assert torch.equal(head_only.encoder[0].weight, model.encoder[0].weight)
    assert torch.equal(both.head.weight, head_only.head.weight)  # cascading keeps what was randomised
    assert not torch.equal(both.encoder[0].weight, model.encoder[0].weight)
    assert sorted(both.encoder.extra.scale.tolist()) == list(range(6))
    again = randomize_(nn.Linear(3, 3), 7).weight, randomize_(nn.Linear(3, 3), 7).weight
    assert torch.equal(*again)
