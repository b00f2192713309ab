"""synthetic-microwell: sample contract, determinism, laziness, planted dynamics, masks vs counts, HSV separability."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest

from cellxai_core.datasets.microwell import SyntheticMicrowell
from cellxai_core.datasets.programs import DEFAULT_PROGRAMS, PROGRAMS

DAYS = np.arange(5) - 2.0  # centred day index for least-squares slopes


def slopes(counts: np.ndarray) -> np.ndarray:
    """Least-squares slope (cells per day) of each cell type: (..., S, 3) -> (..., 3)."""
    return (counts * DAYS[:, None]).sum(-2) / (DAYS**2).sum()


@pytest.fixture(scope="module")
def wells() -> list:
    """32 rendered wells (8 per default program) shared by the tests of this module."""
    ds = SyntheticMicrowell(n_wells=32, seed=5)
    return [ds[i] for i in range(len(ds))]


def test_sample_contract(wells: list) -> None:
    ds = SyntheticMicrowell(n_wells=32, seed=5)
    assert (ds.channels, ds.set_axis, ds.set_size, ds.image_size) == (("red", "green", "blue"), "time", 5, (173, 173))
    assert ds.classes is None and set(ds.truth_keys) == {"program", "mask", "counts"}
    s = wells[3]
    assert s.id == "well-0003" and s.meta == {"well": 3}
    assert s.images.shape == (5, 3, 173, 173) and s.images.dtype == np.float32
    assert 0.0 <= s.images.min() and s.images.max() <= 1.0
    assert s.truth["mask"].shape == (5, 173, 173) and np.issubdtype(s.truth["mask"].dtype, np.integer)
    assert set(np.unique(s.truth["mask"])) <= {0, 1, 2, 3}
    assert s.truth["counts"].shape == (5, 3) and s.truth["program"] in DEFAULT_PROGRAMS


def test_programs_are_balanced_in_blocks(wells: list) -> None:
    names = [w.truth["program"] for w in wells]
    for block in range(0, 32, 4):
        assert sorted(names[block : block + 4]) == sorted(DEFAULT_PROGRAMS)


def test_index_errors() -> None:
    ds = SyntheticMicrowell(n_wells=3)
    for bad in (-1, 3, 10):
        with pytest.raises(IndexError):
            ds[bad]


def test_deterministic_for_a_seed() -> None:
    a, b = SyntheticMicrowell(n_wells=4, seed=1)[2], SyntheticMicrowell(n_wells=4, seed=1)[2]
    c = SyntheticMicrowell(n_wells=4, seed=2)[2]
    assert np.array_equal(a.images, b.images) and np.array_equal(a.truth["mask"], b.truth["mask"])
    assert not np.array_equal(a.images, c.images)


def test_lazy_and_independent_of_n_wells() -> None:
    big = SyntheticMicrowell(n_wells=10_000, seed=3, size=96)
    last = big[9_999]
    alone = SyntheticMicrowell(n_wells=10_000, seed=3, size=96)[9_999]
    assert np.array_equal(last.images, alone.images) and last.truth["program"] == alone.truth["program"]
    # well 3 does not depend on how many wells the dataset has
    assert np.array_equal(SyntheticMicrowell(n_wells=4, seed=3, size=96)[3].images, big[3].images)
    # memory of one access does not depend on the index (nothing is generated ahead)
    peaks = []
    for index in (0, 9_999):
        tracemalloc.start()
        big[index]
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.5 * peaks[0]
    huge = SyntheticMicrowell(n_wells=10**9, seed=3, size=96)
    assert len(huge) == 10**9 and huge[10**9 - 1].images.shape == (5, 3, 96, 96)


def test_planted_dynamics_in_truth_counts(wells: list) -> None:
    for well in wells:
        program = PROGRAMS[well.truth["program"]]
        slope = slopes(well.truth["counts"].astype(float))
        for kind, direction in enumerate(program.direction):
            if direction == 0:
                assert abs(slope[kind]) < 0.75, (well.id, program.name, slope)
            else:
                assert np.sign(slope[kind]) == direction and abs(slope[kind]) > 0.4, (well.id, program.name, slope)


def test_truth_counts_are_the_planted_counts(wells: list) -> None:
    ds = SyntheticMicrowell(n_wells=32, seed=5)
    planned = np.stack([ds.planned_counts(i) for i in range(len(ds))])
    placed = np.stack([w.truth["counts"] for w in wells])
    assert (placed <= planned).all()  # a cell that does not fit is left out, never invented
    assert np.abs(placed - planned).mean() < 0.02


def test_mask_matches_counts(wells: list) -> None:
    """Cells never touch: each cell is one 4-connected component of its class; areas fit the cell sizes."""
    for well in wells[:12]:
        for mask, counts in zip(well.truth["mask"], well.truth["counts"]):
            for label, count in zip((1, 2, 3), counts):
                n_components = cv2.connectedComponents((mask == label).astype(np.uint8), connectivity=4)[0] - 1
                assert n_components == count, (well.id, label)
                area = (mask == label).sum()
                assert 45 * count <= area <= 110 * count if label == 1 else 22 * count <= area <= 65 * count


def test_program_differences_are_visible_in_mask_areas(wells: list) -> None:
    """The planted trend shows in the painted footprints: mask area per class follows the count slope."""
    for well in wells:
        areas = np.stack([(well.truth["mask"] == k).sum((1, 2)) for k in (1, 2, 3)], axis=-1).astype(float)
        per_cell = areas / np.maximum(well.truth["counts"], 1)
        area_slope = slopes(areas) / per_cell.mean(0)
        for kind, direction in enumerate(PROGRAMS[well.truth["program"]].direction):
            if direction:
                assert np.sign(area_slope[kind]) == direction, (well.id, area_slope)


def hsv_labels(image: np.ndarray) -> np.ndarray:
    """A plain HSV rule: Otsu on value, then hue / saturation decide cancer, T cell or dead."""
    hsv = cv2.cvtColor(np.ascontiguousarray(image.transpose(1, 2, 0)), cv2.COLOR_RGB2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    v8 = np.rint(v * 255).astype(np.uint8)
    threshold, _ = cv2.threshold(v8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    fg = v8 > threshold
    labels = np.zeros(v.shape, np.uint8)
    labels[fg & (s >= 0.4) & (h > 60) & (h < 180)] = 1
    labels[fg & (s >= 0.4) & ((h < 40) | (h > 300))] = 2
    labels[fg & (s < 0.4)] = 3
    return labels


def test_hsv_segmentation_matches_masks(wells: list) -> None:
    dice = {1: [], 2: [], 3: []}
    for well in wells[::4]:
        for image, mask in zip(well.images, well.truth["mask"]):
            pred = hsv_labels(image)
            for k in dice:
                a, b = pred == k, mask == k
                dice[k].append(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))
    for k, values in dice.items():
        assert np.mean(values) > 0.9 and np.min(values) > 0.85, (k, np.mean(values), np.min(values))


def test_programs_recoverable_from_hsv_area_trends(wells: list) -> None:
    """Slopes of HSV areas of cancer and T cells cluster into the planted programs."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler

    areas = np.array([[np.bincount(hsv_labels(im).ravel(), minlength=4)[1:] for im in w.images] for w in wells], float)
    features = StandardScaler().fit_transform(slopes(areas)[:, :2])
    labels = KMeans(4, n_init=10, random_state=0).fit_predict(features)
    assert adjusted_rand_score([w.truth["program"] for w in wells], labels) > 0.9
