"""Pseudo-labels and human-designed features against the truth of the built-in synthetic wells."""

import numpy as np
import pytest
import torch

from cellxai_core.registry import get_registry

pytestmark = pytest.mark.skipif(
    "synthetic-microwell" not in get_registry().names("dataset"), reason="needs the built-in synthetic-microwell dataset"
)


@pytest.fixture(scope="module")
def dataset():
    import cellxai_core as cx

    return cx.load_dataset("synthetic-microwell", n_wells=4, size=173, seed=3)


@pytest.fixture(scope="module")
def wells(dataset):
    return [dataset[i] for i in range(4)]


@pytest.fixture(scope="module")
def finder(dataset, wells):
    from cellxai_unet.pseudo import ObjectFinder

    finder = ObjectFinder(dataset.objects, dataset.channels)
    finder.calibrate(torch.from_numpy(np.concatenate([s.images for s in wells])))
    return finder


def test_the_dataset_declares_its_cell_types(dataset):
    names = [o.name for o in dataset.objects]
    assert names == ["cancer", "t_cell", "dead"] and dataset.objects[1].display == "T cell"
    assert dataset.objects[0].diameter > dataset.objects[1].diameter  # cancer cells are the large ones


def test_pseudo_label_dice_per_cell_type(wells, finder):
    from cellxai_unet.segmetrics import ConfusionCounter

    counter = ConfusionCounter(4)
    for sample in wells:
        counter.update(finder.labels(torch.from_numpy(sample.images)), torch.from_numpy(sample.truth["mask"].astype(np.int64)))
    metrics = counter.metrics(["background", *finder.names])
    for cell in finder.names:
        assert metrics[f"dc_{cell}"] >= 0.85, (cell, metrics[f"dc_{cell}"])


def test_counts_and_slopes_track_the_truth(wells, finder):
    from cellxai_unet.handcrafted import feature_names, handcrafted_features

    images = torch.from_numpy(np.stack([s.images for s in wells]))
    feats = handcrafted_features(images, finder).numpy()
    names = feature_names(finder.names)
    assert names[:3] == ["cancer_area", "t_cell_area", "dead_area"] and names[3] == "cancer_count"
    counts = np.stack([s.truth["counts"] for s in wells]).astype(float)  # (B, S, 3)
    for k in range(3):
        assert np.corrcoef(feats[..., 3 + k].ravel(), counts[..., k].ravel())[0, 1] > 0.95
        assert np.abs(feats[..., 3 + k] - counts[..., k]).mean() < 0.1 * counts[..., k].mean()
    t = np.arange(counts.shape[1]) - (counts.shape[1] - 1) / 2
    true_slope = np.einsum("t,btk->bk", t, counts - counts.mean(1, keepdims=True)) / (t**2).sum()
    slopes = [names.index(f"{n}_count_slope") for n in finder.names]
    assert np.abs(feats[:, 0, slopes] - true_slope).max() < 0.5  # cells per day


def test_auto_diameters_match_the_renderer(dataset, wells):
    from cellxai_unet.pseudo import ObjectFinder

    auto = [o.model_copy(update={"diameter": "auto"}) for o in dataset.objects]
    finder = ObjectFinder(auto, dataset.channels)
    finder.calibrate(torch.from_numpy(np.concatenate([s.images for s in wells[:2]])))
    for obj, estimate in zip(dataset.objects, finder.diameter.tolist()):
        assert abs(estimate / obj.diameter - 1) < 0.25, (obj.name, estimate, obj.diameter)
