"""The randomised microwell family (issue #13 item 1): sizes, touching cells, jitter, density and
trajectory shapes do what they say, and the defaults still draw the original wells."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cellxai_core.datasets.microwell import SyntheticMicrowell
from cellxai_core.datasets.programs import PROGRAMS, planted_counts, shape_curve

FAMILY = ("early_killing", "late_killing", "escape", "stalemate", "expansion")


def _diameters(masks: np.ndarray, kind: int) -> np.ndarray:
    """Equivalent diameters of the connected footprints of one type."""
    out = []
    for m in masks:
        lab, n = ndimage.label(m == kind)
        out.extend(2 * np.sqrt(np.bincount(lab.ravel())[1:] / np.pi))
    return np.asarray(out)


def test_defaults_draw_the_same_wells_as_without_the_family_knobs():
    a = SyntheticMicrowell(n_wells=2)[1]
    b = SyntheticMicrowell(n_wells=2, diameters=None, touching=False, clumping=1.0, hue_jitter=0, dim=0)[1]
    assert np.array_equal(a.images, b.images) and np.array_equal(a.truth["counts"], b.truth["counts"])


def test_small_t_cells_have_the_diameter_asked_for():
    s = SyntheticMicrowell(n_wells=1, diameters=(10.0, 4.0, 6.0), blur=0, noise=0)[0]
    t = _diameters(s.truth["mask"], 2)
    assert len(t) > 20
    assert np.median(t) == pytest.approx(4.0 + 1.0, abs=0.6)  # filling a polygon paints its outline: ~ +1 px
    assert np.median(_diameters(s.truth["mask"], 1)) > 2 * np.median(t)


def _touch(masks: np.ndarray) -> int:
    """Pixels of one type next to a pixel of another type (cells touching)."""
    hits = 0
    for m in masks:
        for kind in (1, 2, 3):
            grown = ndimage.binary_dilation(m == kind)
            hits += int((grown & (m > 0) & (m != kind)).sum())
    return hits


def test_touching_cells_touch_and_default_cells_never_do():
    apart = SyntheticMicrowell(n_wells=1, density=(60, 60))[0].truth["mask"]
    close = SyntheticMicrowell(n_wells=1, density=(60, 60), touching=True, clumping=0.3)[0].truth["mask"]
    assert _touch(apart) == 0
    assert _touch(close) > 20


def test_dim_cells_are_darker():
    bright = SyntheticMicrowell(n_wells=1, noise=0, blur=0)[0]
    dim = SyntheticMicrowell(n_wells=1, noise=0, blur=0, dim=0.7)[0]
    t_bright = bright.images.max(axis=1)[bright.truth["mask"] == 2].mean()
    t_dim = dim.images.max(axis=1)[dim.truth["mask"] == 2].mean()
    assert t_dim < 0.8 * t_bright


def test_density_sets_the_mid_course_level():
    rng = np.random.default_rng(0)
    mids = np.array([planted_counts(PROGRAMS["stalemate"], rng, 5, 1.0, (100, 140))[2] for _ in range(40)])
    assert 95 <= mids[:, :2].min() and mids[:, :2].max() <= 145


def test_trajectory_shapes():
    t = np.linspace(0, 1, 5)
    early, late = shape_curve("early", t), shape_curve("late", t)
    assert early[0] == pytest.approx(-0.5) and early[-1] == pytest.approx(0.5) and late[-1] == pytest.approx(0.5)
    assert early[2] - early[0] > 0.75 and late[2] - late[0] < 0.25  # most of the change early / late
    assert shape_curve("transient", t)[[0, -1]] == pytest.approx([0, 0], abs=1e-9)
    rise_fall = shape_curve("rise_fall", t)
    assert rise_fall.argmax() in (1, 2) and rise_fall[-1] < rise_fall[0]
    with pytest.raises(ValueError):
        shape_curve("zigzag", t)


def test_the_family_programs_render_with_their_truth():
    ds = SyntheticMicrowell(n_wells=5, programs=FAMILY, trend=2.0, density=(30, 30), diameters=(9, 5, 6))
    seen = {ds[i].truth["program"] for i in range(5)}
    assert seen == set(FAMILY)
    assert ds.objects[1].name == "t_cell" and ds.objects[1].diameter == pytest.approx(5.0, abs=0.1)
