import numpy as np
import torch

from cellxai_unet.handcrafted import (
    HANDCRAFTED_NAMES, count_components, handcrafted_features, temporal_features,
)


def test_names_follow_the_layout():
    assert len(HANDCRAFTED_NAMES) == 18
    assert HANDCRAFTED_NAMES[:3] == ("cancer_area", "t_cell_area", "dead_area")
    assert HANDCRAFTED_NAMES[3] == "cancer_count"
    assert HANDCRAFTED_NAMES[6] == "cancer_area_change"
    assert HANDCRAFTED_NAMES[12] == "cancer_area_slope"


def test_component_counting_backends_agree_and_filter_specks():
    rng = np.random.default_rng(0)
    masks = torch.from_numpy(rng.random((6, 40, 40)) > 0.7)
    masks[0] = False
    masks[1] = False
    masks[1, 5:9, 5:9] = True  # one 16 px component
    masks[1, 20, 20] = True  # one speck
    masks[1, 30:33, 2:4] = True  # 6 px
    for min_area in (1, 4, 7):
        ref = count_components(masks, min_area, backend="cv2")
        assert torch.equal(ref, count_components(masks, min_area, backend="torch"))
    assert count_components(masks[:2], 1).tolist() == [0, 3]
    assert count_components(masks[:2], 4).tolist() == [0, 2]
    assert count_components(masks[:2], 7).tolist() == [0, 1]


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
    feats = handcrafted_features(images).numpy()
    counts = np.stack([s.truth["counts"] for s in samples]).astype(np.float32)  # (B, S, 3)
    assert np.array_equal(feats[..., 3:6], counts)  # separated discs are counted exactly
    true_area = np.stack([[(s.truth["mask"] == k).mean(axis=(1, 2)) for k in (1, 2, 3)] for s in samples]).transpose(0, 2, 1)
    assert np.abs(feats[..., 0:3] - true_area).max() < 0.01
    true_slope = np.polyfit(np.arange(5), counts.transpose(1, 0, 2).reshape(5, -1), 1)[0].reshape(4, 3)
    assert np.allclose(feats[:, 0, 15:18], true_slope, atol=1e-5)
    # program 0 (cancer rising) and program 1 (falling) have opposite cancer count slopes
    assert feats[0, 0, 15] > 0.5 and feats[1, 0, 15] < -0.5
