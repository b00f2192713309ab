import numpy as np
import torch

from cellxai_unet.handcrafted import feature_names, handcrafted_features, temporal_features
from cellxai_unet.pseudo import ObjectFinder


def test_names_follow_the_objects_and_keep_the_microwell_layout():
    names = feature_names(["cancer", "t_cell", "dead"])
    assert len(names) == 27
    assert names[:3] == ["cancer_area", "t_cell_area", "dead_area"]
    assert names[3] == "cancer_count" and names[6] == "cancer_intensity"
    assert names[9] == "cancer_area_change" and names[18] == "cancer_area_slope"
    assert feature_names(["nucleus"]) == [
        "nucleus_area", "nucleus_count", "nucleus_intensity", "nucleus_area_change", "nucleus_count_change",
        "nucleus_intensity_change", "nucleus_area_slope", "nucleus_count_slope", "nucleus_intensity_slope",
    ]


def test_temporal_features_change_and_slope():
    rng = np.random.default_rng(1)
    values = rng.random((3, 5, 6)).astype(np.float32)
    out = temporal_features(torch.from_numpy(values)).numpy()
    assert out.shape == (3, 5, 18)
    assert np.allclose(out[:, :, :6], values)
    assert np.allclose(out[:, 0, 6:12], 0)
    assert np.allclose(out[:, 1:, 6:12], np.diff(values, axis=1), atol=1e-6)
    slopes = np.polyfit(np.arange(5), values.transpose(1, 0, 2).reshape(5, -1), 1)[0].reshape(3, 6)
    assert np.allclose(out[:, :, 12:], slopes[:, None, :], atol=1e-5)


def test_features_track_painted_counts_and_slopes(painted):
    samples = [painted[i] for i in range(4)]
    images = torch.from_numpy(np.stack([s.images for s in samples]))
    finder = ObjectFinder(painted.objects, painted.channels)
    feats = handcrafted_features(images, finder).numpy()
    names = feature_names(finder.names)
    counts = np.stack([s.truth["counts"] for s in samples]).astype(np.float32)  # (B, S, 3)
    assert np.array_equal(feats[..., 3:6], counts)  # separated discs are counted exactly
    true_area = np.stack([[(s.truth["mask"] == k).mean(axis=(1, 2)) for k in (1, 2, 3)] for s in samples]).transpose(0, 2, 1)
    assert np.abs(feats[..., 0:3] - true_area).max() < 0.01
    assert np.all(feats[..., 6:9][counts > 0] > 0.3)  # mean brightness of painted cells
    true_slope = np.polyfit(np.arange(5), counts.transpose(1, 0, 2).reshape(5, -1), 1)[0].reshape(4, 3)
    slope = [names.index(f"{n}_count_slope") for n in finder.names]
    assert np.allclose(feats[:, 0, slope], true_slope, atol=1e-5)
    # program 0 (cancer rising) and program 1 (falling) have opposite cancer count slopes
    assert feats[0, 0, slope[0]] > 0.5 and feats[1, 0, slope[0]] < -0.5
