"""Samples as the report shows them: their images, and every plugin's maps drawn over them.

The report picks the samples (exemplars, confident or uncertain ones) and reads their
images; the maps come from the plugins that registered ``maps`` (Grad-CAM ...), so a
montage shows whatever explanations the run has, with no explainer named here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .contrib import sample_contours, sample_maps
from .images import composite, overlay, stretch
from .source import ReportSource


@dataclass
class Tiles:
    """One sample: its composite image(s), and each provider's overlays on them (same length)."""

    images: list[np.ndarray]
    overlays: list[tuple[str, list[np.ndarray]]] = field(default_factory=list)


def sample_tiles(src: ReportSource, indices: Sequence[int]) -> list[Tiles] | None:
    """Tiles of each sample, or None when the images cannot be read (the dataset is gone)."""
    imgs = [src.images(int(i)) for i in indices]
    if any(im is None for im in imgs):
        return None
    provided = sample_maps(src, indices) if len(indices) else []
    outlines = sample_contours(src, indices) if provided else None
    out = []
    for r, im in enumerate(imgs):
        rgb = [stretch(x) for x in composite(im, src.set_axis)]
        tiles = Tiles(rgb)
        labels = None if outlines is None else outlines[r]
        for label, maps in provided:
            cams = maps[r]
            if len(cams) == len(rgb):
                drawn = [overlay(x, m, contours=None if labels is None or len(labels) != len(rgb) else labels[j])
                         for j, (x, m) in enumerate(zip(rgb, cams))]
                tiles.overlays.append((label, drawn))
            else:  # isolated channels shown as one composite: the mean map over the set
                tiles.overlays.append((label, [overlay(rgb[0], cams.mean(axis=0), contours=None if labels is None else labels.max(axis=0))]))
        out.append(tiles)
    return out


def map_labels(tiles: Sequence[Tiles]) -> list[str]:
    """The labels of the maps drawn (e.g. ["Grad-CAM"]), for captions."""
    return [label for label, _ in tiles[0].overlays] if tiles else []
