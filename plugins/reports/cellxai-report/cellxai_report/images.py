"""Microscopy images for display: channel composites, attribution overlays, montages.

Overlays show the image in grey (its luminance) under a perceptually uniform colour map
(``CMAP``, viridis) of the map, blended in proportion to the map's value, so that the
image's own colours (red = a cell type) never mix with the map's, unimportant regions
still show the cells underneath, and the montage's colour bar gives the scale. Object
contours (truth masks) can be drawn on top.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

TILE = 192  # pixels per image in a montage
CMAP = "viridis"  # perceptually uniform; the montages' colour bars use the same
OVERLAY_SCALE = "map value (each map: 0 to its own maximum)"
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
    """A map in [0, 1] (H, W) as an RGB image in [0, 1] under ``CMAP``."""
    from matplotlib import colormaps

    return colormaps[CMAP](np.clip(np.nan_to_num(cam.astype(np.float32)), 0, 1))[..., :3].astype(np.float32)


def grey(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> its luminance (Rec. 601) as a grey RGB image."""
    lum = rgb[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.repeat(lum[..., None], 3, axis=-1).astype(np.float32)


def overlay(rgb: np.ndarray, cam: np.ndarray, strength: float = 0.85, contours: np.ndarray | None = None) -> np.ndarray:
    """``CMAP`` of ``cam`` over the grey image where the map is high; both (H, W[, 3]) in [0, 1].

    ``contours``: optional object labels (H, W), their outlines drawn in white. A map that is 0
    everywhere (no positive evidence at the layer) is not drawn as a plain grey image, which reads
    as "looked nowhere": the image is dimmed and says "empty map".
    """
    import cv2

    cam = np.clip(np.nan_to_num(cam.astype(np.float32)), 0, 1)
    if cam.shape != rgb.shape[:2]:
        cam = cv2.resize(cam, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    alpha = (strength * np.sqrt(cam))[..., None]
    out = np.clip(grey(rgb) * (1 - alpha) + heat(cam) * alpha, 0, 1)
    if not cam.any():
        dimmed = np.ascontiguousarray(out * 0.35 * 255).astype(np.uint8)  # cv2 writes text on 8-bit images
        (width, _), _ = cv2.getTextSize("empty map", cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)
        scale = 0.8 * out.shape[1] / width  # the text spans 80 % of the image, whatever its size
        cv2.putText(dimmed, "empty map", (out.shape[1] // 10, out.shape[0] // 2), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), max(1, round(2 * scale)), cv2.LINE_AA)
        out = dimmed.astype(np.float32) / 255
    if contours is not None:
        from skimage.segmentation import find_boundaries

        out[find_boundaries(np.asarray(contours), mode="inner")] = 1.0
    return out


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
    colorbar: str | None = None,
):
    """A labelled montage as one matplotlib figure (one imshow: fast for many tiles).

    ``colorbar``: the label of a ``CMAP`` colour bar from 0 to 1 (the overlays' scale).
    """
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
    if colorbar:
        from matplotlib import cm, colors

        bar = fig.colorbar(cm.ScalarMappable(colors.Normalize(0, 1), CMAP), ax=ax, fraction=0.025, pad=0.01, shrink=0.6)
        bar.set_label(colorbar, fontsize=8)
        bar.ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig
