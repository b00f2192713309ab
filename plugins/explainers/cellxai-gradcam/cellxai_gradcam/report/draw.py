"""Drawing for this plugin's report sections: composites, overlays and panels of images.

matplotlib and numpy only (no OpenCV): the sections draw a few small images.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

Panel = tuple[np.ndarray, str, "str | None"]  # (image, title, colour map or None for RGB)


def composite(images: np.ndarray, set_axis: str) -> list[np.ndarray]:
    """(S, C, H, W) -> S RGB images (H, W, 3); isolated channels (S = 2 or 3, C = 1) -> one RGB."""
    images = np.asarray(images, dtype=np.float32)
    s, c = images.shape[:2]
    if set_axis == "channel" and c == 1 and s in (2, 3):
        return [_rgb(images[:, 0])]
    return [_rgb(img) for img in images]


def _rgb(image: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W, 3), brightest 0.5 % saturated: three channels as R, G, B; two as (R, G); one grey."""
    c = image.shape[0]
    rgb = image[:3] if c >= 3 else np.concatenate([image, np.zeros_like(image[:1])]) if c == 2 else np.repeat(image[:1], 3, axis=0)
    rgb = np.clip(np.moveaxis(rgb, 0, -1), 0, 1)
    top = float(np.percentile(rgb, 99.5)) if rgb.size else 1.0
    return np.clip(rgb / top, 0, 1) if top > 1e-6 else rgb


CMAP = "viridis"  # perceptually uniform; the same as the report's montages
OVERLAY_SCALE = "map value (0 to the maximum of each row's maps)"


def overlay(rgb: np.ndarray, cam: np.ndarray, strength: float = 0.85, contours: np.ndarray | None = None) -> np.ndarray:
    """``CMAP`` of ``cam`` (in [0, 1]) over the image's luminance, blended where the map is high.

    ``contours``: object labels (H, W) of the image; their outlines are drawn in white on top
    (they restrict nothing: the map is computed and drawn everywhere).
    """
    cam = np.clip(np.nan_to_num(np.asarray(cam, dtype=np.float32)), 0, 1)
    if cam.shape != rgb.shape[:2]:  # nearest neighbour: maps and images differ by whole factors
        ys = np.arange(rgb.shape[0]) * cam.shape[0] // rgb.shape[0]
        xs = np.arange(rgb.shape[1]) * cam.shape[1] // rgb.shape[1]
        cam = cam[np.ix_(ys, xs)]
    lum = np.repeat((rgb[..., :3] @ np.array([0.299, 0.587, 0.114]))[..., None], 3, axis=-1)
    alpha = (strength * np.sqrt(cam))[..., None]
    out = np.clip(lum * (1 - alpha) + plt.get_cmap(CMAP)(cam)[..., :3] * alpha, 0, 1)
    if contours is not None:
        from skimage.segmentation import find_boundaries

        out[find_boundaries(np.asarray(contours), mode="inner")] = 1.0
    return out


def image_panels(panels: Sequence[Sequence[Panel]], row_labels: Sequence[str], size: float = 2.6, titles: str = "all",
                 colorbar: str | None = None):
    """Rows of (image, title, colour map or None for RGB) panels; maps get a colour bar.

    ``titles="first"`` titles the first row only (the columns are the same positions);
    ``colorbar`` labels one ``CMAP`` bar from 0 to 1 for the overlays.
    """
    n_rows, n_cols = len(panels), max(len(r) for r in panels)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(size * n_cols + 0.6, size * n_rows), squeeze=False)
    for i, row in enumerate(panels):
        for j in range(n_cols):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j >= len(row):
                ax.axis("off")
                continue
            img, title, cmap = row[j]
            if cmap is None:
                ax.imshow(np.clip(img, 0, 1))
            else:
                lim = (-1, 1) if cmap in ("bwr", "RdBu_r", "coolwarm") else (0, max(float(np.nanmax(img)), 1e-6))
                im = ax.imshow(img, cmap=cmap, vmin=lim[0], vmax=lim[1])
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
            if titles == "all" or i == 0:
                ax.set_title(title, fontsize=8.5)
            if j == 0:
                ax.set_ylabel(row_labels[i], fontsize=9)
    fig.tight_layout()
    if colorbar:
        from matplotlib import cm, colors

        bar = fig.colorbar(cm.ScalarMappable(colors.Normalize(0, 1), CMAP), ax=axes.ravel().tolist(), fraction=0.02, pad=0.01, shrink=0.5)
        bar.set_label(colorbar, fontsize=8)
    return fig
