"""A montage of a few samples: what the pipeline will see.

Rows are the first samples, columns the images of a sample
(days of a well, isolated channels plus their merge, or the one image). Channels are
shown as RGB; a single-channel image is grey, or false colour when its set position
names a stain (vimentin red, actin green, DAPI blue, ...). Each colour channel is
stretched to its 99.5th percentile over the whole montage, so dim data become visible
while samples stay comparable. Small images are enlarged by an integer factor.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..data import Dataset

MIN_TILE = 128
GAP = 4
HEADER = 22
LABEL_WIDTH = 150
STAIN_COLOURS = {
    "vimentin": (1.0, 0.0, 0.0),
    "actin": (0.0, 1.0, 0.0),
    "dapi": (0.0, 0.0, 1.0),
    "dna": (0.0, 0.0, 1.0),
    "hoechst": (0.0, 0.0, 1.0),
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "gfp": (0.0, 1.0, 0.0),
    "rfp": (1.0, 0.0, 0.0),
}
FALLBACK_COLOURS = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (1.0, 0.0, 1.0), (0.0, 1.0, 1.0), (1.0, 1.0, 0.0))


def tile_scale(image_size: Sequence[int]) -> int:
    """Integer enlargement so that a tile is at least ``MIN_TILE`` pixels on its long side."""
    return max(1, math.ceil(MIN_TILE / max(image_size)))


def preview_size(ds: Dataset, n: int) -> tuple[int, int]:
    """(height, width) in pixels of the montage of ``n`` samples of ``ds``."""
    rows = min(n, len(ds))
    cols = _columns(ds)
    h, w = (v * tile_scale(ds.image_size) for v in ds.image_size)
    return HEADER + rows * (h + GAP) + GAP, LABEL_WIDTH + cols * (w + GAP) + GAP


def _columns(ds: Dataset) -> int:
    merged = ds.set_axis == "channel" and ds.set_size > 1 and len(ds.channels) == 1
    return ds.set_size + (1 if merged else 0)


def _labels(ds: Dataset) -> list[str]:
    labels = list(getattr(ds, "set_labels", ()) or ())
    if len(labels) != ds.set_size:
        prefix = {"time": "day", "channel": "channel"}.get(ds.set_axis, "image")
        labels = [f"{prefix} {i + 1}" for i in range(ds.set_size)]
    return labels


def colour_of(name: str, position: int) -> tuple[float, float, float]:
    return STAIN_COLOURS.get(name.lower(), FALLBACK_COLOURS[position % len(FALLBACK_COLOURS)])


def to_rgb(image: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W, 3): three or more channels as R, G, B; two as R, G; one as grey."""
    c = image.shape[0]
    if c >= 3:
        rgb = image[:3]
    elif c == 2:
        rgb = np.concatenate([image, np.zeros_like(image[:1])])
    else:
        rgb = np.repeat(image, 3, axis=0)
    return np.moveaxis(rgb, 0, -1)


def sample_tiles(ds: Dataset, images: np.ndarray) -> list[np.ndarray]:
    """The RGB tiles (H, W, 3) of one sample's images (S, C, H, W)."""
    if ds.set_axis == "channel" and images.shape[1] == 1 and images.shape[0] > 1:
        labels = _labels(ds)
        tiles = [images[i, 0][..., None] * np.asarray(colour_of(labels[i], i), np.float32) for i in range(images.shape[0])]
        merged = np.clip(np.sum(tiles, axis=0), 0, 1)
        return tiles + [merged]
    return [to_rgb(img) for img in images]


def _put_text(canvas: np.ndarray, text: str, x: int, y: int, width: int) -> None:
    import cv2

    scale = 0.42
    while scale > 0.25 and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > width:
        scale -= 0.03
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (230, 230, 230), 1, cv2.LINE_AA)


def _row_label(sample: Any) -> list[str]:
    lines = [str(sample.id)]
    for key in ("program", "class"):
        if key in sample.truth:
            lines.append(f"{key}: {sample.truth[key]}")
    return lines


def montage(ds: Dataset, n: int = 4) -> np.ndarray:
    """The montage as (H, W, 3) uint8 RGB."""
    count = min(n, len(ds))
    if count == 0:
        raise ValueError("the dataset is empty")
    samples = [ds[i] for i in range(count)]
    scale = tile_scale(ds.image_size)
    rows = [sample_tiles(ds, s.images) for s in samples]
    stack = np.stack([np.stack(r) for r in rows])  # (rows, cols, H, W, 3)
    high = np.percentile(stack, 99.5, axis=(0, 1, 2, 3))
    stack = np.clip(stack / np.where(high > 1e-6, high, 1.0), 0, 1)

    height, width = preview_size(ds, n)
    canvas = np.full((height, width, 3), 24, np.uint8)
    th, tw = ds.image_size[0] * scale, ds.image_size[1] * scale
    labels = _labels(ds) + (["merged"] if stack.shape[1] > ds.set_size else [])
    for c, label in enumerate(labels):
        _put_text(canvas, label, LABEL_WIDTH + c * (tw + GAP) + GAP, HEADER - 7, tw)
    for r, sample in enumerate(samples):
        top = HEADER + r * (th + GAP)
        for line_no, line in enumerate(_row_label(sample)):
            _put_text(canvas, line, 6, top + 16 + 16 * line_no, LABEL_WIDTH - 10)
        for c in range(stack.shape[1]):
            tile = np.repeat(np.repeat(stack[r, c], scale, axis=0), scale, axis=1)
            left = LABEL_WIDTH + c * (tw + GAP) + GAP
            canvas[top : top + th, left : left + tw] = np.rint(tile * 255).astype(np.uint8)
    return canvas


def write_preview(ds: Dataset, out: str | Path, n: int = 4) -> tuple[int, int]:
    """Write the montage of ``n`` samples to a PNG; returns its (height, width)."""
    import cv2

    image = montage(ds, n)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(image[..., ::-1])):
        from ..errors import UserError

        raise UserError(f"{path}: cannot write the preview image (is the suffix .png and the folder writable?)")
    return image.shape[0], image.shape[1]
