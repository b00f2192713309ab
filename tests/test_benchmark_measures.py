"""The measures benchmark scripts print and the docs quote: a class-constant R^2 must tell a
class-weighted segmentation (R^2 1) from a map that varies within classes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_faithfulness import class_constant_r2_of  # noqa: E402


def test_class_constant_r2_is_one_for_a_class_weighted_segmentation_and_low_for_noise() -> None:
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 3, (2, 32, 32))
    weighted = np.array([0.0, 0.3, 1.0])[classes]
    noise = rng.random((2, 32, 32))
    r2 = class_constant_r2_of(np.concatenate([weighted, noise]), np.concatenate([classes, classes]))
    np.testing.assert_allclose(r2[:2], 1.0)
    assert (r2[2:] < 0.05).all()


def test_class_constant_r2_skips_empty_maps_and_is_zero_on_one_class() -> None:
    classes = np.zeros((2, 8, 8), dtype=int)
    maps = np.stack([np.zeros((8, 8)), np.linspace(0, 1, 64).reshape(8, 8)])
    r2 = class_constant_r2_of(maps, classes)
    assert r2.shape == (1,) and abs(r2[0]) < 1e-12
