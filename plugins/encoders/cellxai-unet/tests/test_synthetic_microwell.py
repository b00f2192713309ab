"""Pseudo-labels and human-designed features against the truth of the built-in synthetic wells."""

import numpy as np
import pytest
import torch

from cellxai_core.registry import get_registry

pytestmark = pytest.mark.skipif(
    "synthetic-microwell" not in get_registry().names("dataset"), reason="needs the built-in synthetic-microwell dataset"
)


@pytest.fixture(scope="module")
def wells():
    import cellxai_core as cx

    ds = cx.load_dataset("synthetic-microwell", n_wells=4, size=173, seed=3)
    return [ds[i] for i in range(4)]


def test_pseudo_label_dice_per_cell_type(wells):
    from cellxai_unet.hsv import CELL_TYPES, pseudo_labels
    from cellxai_unet.segmetrics import ConfusionCounter

    counter = ConfusionCounter(4)
    for sample in wells:
        counter.update(pseudo_labels(torch.from_numpy(sample.images)), torch.from_numpy(sample.truth["mask"].astype(np.int64)))
    metrics = counter.metrics(("background",) + CELL_TYPES)
    for cell in CELL_TYPES:
        assert metrics[f"dc_{cell}"] >= 0.85, (cell, metrics[f"dc_{cell}"])


def test_counts_and_slopes_track_the_truth(wells):
    from cellxai_unet.handcrafted import handcrafted_features

    images = torch.from_numpy(np.stack([s.images for s in wells]))
    feats = handcrafted_features(images).numpy()
    counts = np.stack([s.truth["counts"] for s in wells]).astype(float)  # (B, S, 3)
    for k in range(3):
        assert np.corrcoef(feats[..., 3 + k].ravel(), counts[..., k].ravel())[0, 1] > 0.95
        assert np.abs(feats[..., 3 + k] - counts[..., k]).mean() < 0.1 * counts[..., k].mean()
    t = np.arange(counts.shape[1]) - (counts.shape[1] - 1) / 2
    true_slope = np.einsum("t,btk->bk", t, counts - counts.mean(1, keepdims=True)) / (t**2).sum()
    assert np.abs(feats[:, 0, 15:18] - true_slope).max() < 0.5  # cells per day
