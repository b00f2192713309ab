"""Overlays: an empty Grad-CAM map is drawn as such, not as a plain image."""

from __future__ import annotations

import numpy as np

from cellxai_report.images import overlay


def test_an_empty_map_is_dimmed_and_labelled_at_any_size():
    for side in (64, 173):
        rgb = np.full((side, side, 3), 0.5, np.float32)
        drawn = overlay(rgb, np.zeros((side, side), np.float32))
        assert drawn.shape == rgb.shape and drawn.dtype == np.float32
        text = drawn.max(axis=2) > 0.9  # white letters on an image dimmed to 0.35 x its grey
        assert text.any() and text.mean() < 0.1
        assert np.median(drawn) < 0.2


def test_a_map_with_evidence_carries_no_label():
    rgb = np.full((64, 64, 3), 0.5, np.float32)
    cam = np.zeros((64, 64), np.float32)
    cam[20:30, 20:30] = 1.0
    drawn = overlay(rgb, cam)
    assert np.allclose(drawn[0, 0], 0.5, atol=1e-3)  # untouched grey where the map is 0
    assert not (drawn[:, :, :].min(axis=2) > 0.9).any()  # viridis' top is yellow, never white
