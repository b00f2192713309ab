"""Tile grids and the foreground test that drops empty tiles.

Tiles start at 0 and step by the stride; a remainder narrower than a tile at the right /
bottom edge is not covered (shift or pad the image if the border matters). A pixel is
foreground when any channel of any set position is above that channel's Otsu threshold,
estimated once on an even sample of pieces across the whole dataset, so an empty tile is
judged against the dataset's own background and not stretched into noise.
"""

from __future__ import annotations

from typing import Sequence, cast

import numpy as np


def tile_origins(length: int, tile: int, stride: int) -> list[int]:
    """Start offsets of the tiles along one axis of ``length`` pixels."""
    return list(range(0, length - tile + 1, stride))


def foreground_thresholds(values: np.ndarray) -> np.ndarray:
    """Per-channel Otsu thresholds of (C, n) raw values; a constant channel gets a threshold no pixel exceeds."""
    from skimage.filters import threshold_otsu

    out = []
    for channel in values:
        finite = channel[np.isfinite(channel)]
        if finite.size == 0 or finite.min() == finite.max():
            out.append(float(finite.max()) if finite.size else np.inf)
        else:
            out.append(float(threshold_otsu(finite)))
    return np.asarray(out, dtype=np.float64)


def tile_fractions(band: np.ndarray, thresholds: np.ndarray, x0s: Sequence[int], width: int) -> list[float]:
    """Foreground fraction of each tile of a band (S, C, h, W) of one tile row, tiles starting at ``x0s``."""
    with np.errstate(invalid="ignore"):
        above = np.asarray(band > thresholds.reshape(1, -1, 1, 1).astype(np.float64))
    mask = cast(np.ndarray, above.any(axis=(0, 1)))
    return [float(mask[:, x0 : x0 + width].mean()) for x0 in x0s]
