"""Microscopy images for display: channel composites, Grad-CAM overlays, montages.

Overlays use OpenCV's JET colour map blended with the image in proportion to the map's
value, so that unimportant regions still show the cells underneath.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

TILE = 96  # pixels per image in a montage
GAP = 4


def composite(images: np.ndarray, set_axis: str) -> np.ndarray:
    """(S, C, H, W) -> S RGB images (S, H, W, 3); isolated channels (S=3, C=1) -> one RGB (1, H, W, 3)."""
    s, c = images.shape[:2]
    if set_axis == "channel" and c == 1 and s in (2, 3):
        stacked = images[:, 0]
        if s == 2:
            stacked = np.concatenate([stacked, np.zeros_like(stacked[:1])])
        return np.clip(np.moveaxis(stacked, 0, -1)[None], 0, 1)
    return np.stack([to_rgb(img) for img in images])


def to_rgb(image: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W, 3): three channels as R, G, B; two as (R, G); one as grey."""
    c = image.shape[0]
    if c >= 3:
        rgb = image[:3]
    elif c == 2:
        rgb = np.concatenate([image, np.zeros_like(image[:1])])
    else:
        rgb = np.repeat(image[:1], 3, axis=0)
    return np.clip(np.moveaxis(rgb, 0, -1), 0, 1).astype(np.float32)


def stretch(rgb: np.ndarray, percentile: float = 99.5) -> np.ndarray:
    """Scale intensities so the brightest 0.5 % saturate: dim fluorescence becomes visible."""
    top = float(np.percentile(rgb, percentile)) if rgb.size else 1.0
    return np.clip(rgb / top, 0, 1) if top > 1e-6 else rgb


def heat(cam: np.ndarray) -> np.ndarray:
    """A map in [0, 1] (H, W) as an RGB JET image in [0, 1]."""
    import cv2

    u8 = np.uint8(np.clip(np.nan_to_num(cam.astype(np.float32)), 0, 1) * 255)
    return cv2.cvtColor(cv2.applyColorMap(u8, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def overlay(rgb: np.ndarray, cam: np.ndarray, strength: float = 0.75) -> np.ndarray:
    """Blend the JET map of ``cam`` over ``rgb`` where the map is high; both (H, W[, 3]) in [0, 1]."""
    import cv2

    cam = np.clip(np.nan_to_num(cam.astype(np.float32)), 0, 1)
    if cam.shape != rgb.shape[:2]:
        cam = cv2.resize(cam, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    alpha = (strength * np.sqrt(cam))[..., None]
    return np.clip(rgb * (1 - alpha) + heat(cam) * alpha, 0, 1)


def tile(rgb: np.ndarray, size: int = TILE) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    interp = cv2.INTER_AREA if max(h, w) > size else cv2.INTER_NEAREST
    return cv2.resize(rgb.astype(np.float32), (size, size), interpolation=interp)


def grid(tiles: Sequence[Sequence[np.ndarray | None]], size: int = TILE, gap: int = GAP) -> np.ndarray:
    """Rows of RGB tiles (None = empty) on a white canvas, each resized to ``size``."""
    n_rows = len(tiles)
    n_cols = max((len(r) for r in tiles), default=0)
    canvas = np.ones((n_rows * (size + gap) - gap, n_cols * (size + gap) - gap, 3), np.float32)
    for i, row in enumerate(tiles):
        for j, img in enumerate(row):
            if img is None:
                continue
            y, x = i * (size + gap), j * (size + gap)
            canvas[y:y + size, x:x + size] = tile(img, size)
    return canvas


def montage_figure(
    rows: Sequence[Sequence[np.ndarray | None]],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    size: int = TILE,
    title: str | None = None,
):
    """A labelled montage as one matplotlib figure (one imshow: fast for many tiles)."""
    from .figures import plt

    canvas = grid(rows, size)
    scale = 1 / 100  # inches per canvas pixel: 1:1 at the report's 100 dpi
    fig, ax = plt.subplots(figsize=(canvas.shape[1] * scale + 1.6, canvas.shape[0] * scale + 0.5))
    ax.imshow(canvas, interpolation="nearest")
    step = size + GAP
    ax.set_xticks([j * step + size / 2 for j in range(len(col_labels))], col_labels, fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks([i * step + size / 2 for i in range(len(row_labels))], row_labels, fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10, pad=18)
    fig.tight_layout()
    return fig
