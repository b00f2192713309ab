"""Paint one fluorescence image of a microwell from a cell layout.

Dark background, a circular well with a faint rim, green textured cancer cells with a
dimmer nucleus, small bright red T cells, pale desaturated dead cells, a weak glow
around cells, then per-image illumination (gain, gradient, vignetting), optical blur
and shot / read noise. Colours follow HSV so that hue and saturation separate the cell
types: cancer green (hue ~105-140 degrees), T cells red (~350-8), dead cells
saturation < 0.15 and bright. The mask is the exact painted footprint of each cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from .microwell_layout import Layout

SUBPIXEL_BITS = 4  # cv2 drawing with 1/16 pixel precision
HUE = ((105.0, 140.0), (-10.0, 8.0), (0.0, 360.0))
SATURATION = ((0.72, 0.92), (0.70, 0.90), (0.0, 0.14))
VALUE = ((0.68, 0.95), (0.72, 1.0), (0.68, 0.92))
TEXTURE = (0.22, 0.08, 0.12)  # strength of the granular brightness texture per type
NUCLEUS_DIM = 0.8  # brightness of the cancer-cell nucleus relative to its cytoplasm


@dataclass(frozen=True)
class Imaging:
    """Strength knobs of the acquisition (1 = default, 0 = off)."""

    noise: float = 1.0
    blur: float = 1.0
    illumination: float = 1.0
    hue_jitter: float = 0.0  # sd (degrees) of a per-cell hue shift
    dim: float = 0.0  # per-cell brightness factor uniform in [1 - dim, 1] (dim, hard-to-see cells)


def hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV (hue in degrees) to RGB (..., 3) in [0, 1]."""
    h = np.mod(h, 360.0) / 60.0
    c = v * s
    x = c * (1 - np.abs(np.mod(h, 2) - 1))
    zero = np.zeros_like(c)
    sector = np.floor(h).astype(int) % 6
    r = np.choose(sector, [c, x, zero, zero, x, c])
    g = np.choose(sector, [x, c, c, x, zero, zero])
    b = np.choose(sector, [zero, zero, x, c, c, x])
    return np.stack([r, g, b], axis=-1) + (v - c)[..., None]


def _unit_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Zero-mean, unit-variance float32 noise; uniform, which is 3x cheaper to draw than normal."""
    noise = rng.random(shape, dtype=np.float32)
    noise -= np.float32(0.5)
    noise *= np.float32(np.sqrt(12.0))
    return noise


def _smooth_noise(rng: np.random.Generator, size: int, cell: float) -> np.ndarray:
    """Zero-mean, roughly unit-sd random field (H, W) float32 with features of about ``cell`` pixels."""
    if cell <= 1.5:
        field = cv2.GaussianBlur(_unit_noise(rng, (size, size)), (0, 0), cell)
        return field * np.float32(2.0 * np.sqrt(np.pi) * cell)  # restores unit sd after blurring
    coarse = max(2, int(round(size / cell)))
    small = _unit_noise(rng, (coarse, coarse))
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


@lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centre coordinates (x, y), each (H, W) float32; cached per size, read-only."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    xx.flags.writeable = yy.flags.writeable = False
    return xx, yy


def _paint_cells(layout: Layout, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Instance map (H, W) int32 (0 = background, i + 1 = cell i) and nucleus map (H, W) bool."""
    instances = np.zeros((size, size), np.int32)
    nuclei = np.zeros((size, size), np.uint8)
    one = 1 << SUBPIXEL_BITS
    fixed = np.rint(layout.outlines * one).astype(np.int32)
    for i in range(len(fixed)):
        cv2.fillPoly(instances, [fixed[i]], i + 1, cv2.LINE_8, SUBPIXEL_BITS)
    cancer = np.flatnonzero(layout.types == 0)
    r = layout.radii[cancer]
    centres = np.rint((layout.centres[cancer] + rng.normal(0, 0.15, (len(cancer), 2)) * r[:, None]) * one).astype(int)
    axes = np.rint(np.array([0.48, 0.36]) * r[:, None] * one).astype(int)
    angles = rng.uniform(0, 180, len(cancer))
    for (cx, cy), (ax, ay), angle in zip(centres.tolist(), axes.tolist(), angles.tolist()):
        cv2.ellipse(nuclei, (cx, cy), (ax, ay), angle, 0, 360, 1, -1, cv2.LINE_8, SUBPIXEL_BITS)
    return instances, nuclei.view(bool) & (instances > 0)


def _background(rng: np.random.Generator, size: int, centre: np.ndarray, radius: float, scale: float) -> np.ndarray:
    """(H, W, 3) dark background with a slightly brighter well interior and a faint rim."""
    xx, yy = _grid(size)
    dist = np.sqrt((xx - np.float32(centre[0])) ** 2 + (yy - np.float32(centre[1])) ** 2)
    outside = rng.uniform(0.012, 0.035)
    inside = outside + rng.uniform(0.012, 0.03)
    rim = rng.uniform(0.05, 0.11)
    edge = np.clip((radius - dist) / np.float32(1.2 * scale) + 0.5, 0, 1)
    level = outside + (inside - outside) * edge + rim * np.exp(-0.5 * ((dist - radius) / np.float32(1.3 * scale)) ** 2)
    level *= 1 + 0.08 * _smooth_noise(rng, size, 8 * scale)
    tint = np.array([0.92, 1.0, 1.12], np.float32) * rng.uniform(0.95, 1.05, 3).astype(np.float32)
    return level[..., None] * tint


def _illumination(rng: np.random.Generator, size: int, strength: float) -> np.ndarray:
    """(H, W, 1) multiplicative field: gain, linear gradient, vignetting (smooth, so built at 16 x 16)."""
    u = (np.arange(16, dtype=np.float32) + 0.5) / 16 - 0.5
    gain = rng.uniform(0.87, 1.13) ** strength
    angle = rng.uniform(0, 2 * np.pi)
    slope = rng.uniform(0.0, 0.25) * strength
    vignette = rng.uniform(0.0, 0.3) * strength
    ramp = 1 + slope * (u[None, :] * np.cos(angle) + u[:, None] * np.sin(angle))
    field = np.float32(gain) * ramp * (1 - vignette * (u[None, :] ** 2 + u[:, None] ** 2))
    return cv2.resize(field.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)[..., None]


def _glow(cells: np.ndarray, scale: float) -> np.ndarray:
    """A faint halo around cells: the cell layer blurred at a quarter of the resolution."""
    size = cells.shape[0]
    small = cv2.resize(cells, (max(4, size // 4),) * 2, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), 0.75 * scale)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_LINEAR) * np.float32(0.12)


def render_image(
    layout: Layout,
    rng: np.random.Generator,
    size: int,
    centre: np.ndarray,
    radius: float,
    scale: float,
    imaging: Imaging,
) -> tuple[np.ndarray, np.ndarray]:
    """One well image: RGB (3, H, W) float32 in [0, 1] and its label mask (H, W) uint8 (0/1/2/3)."""
    n = len(layout.types)
    instances, nuclei = _paint_cells(layout, size, rng)
    lo_hi = lambda table: np.array([table[k] for k in layout.types]).reshape(n, 2)  # noqa: E731
    u = rng.uniform(0, 1, (3, n))
    hue, sat, val = (lo[:, 0] + u[j] * (lo[:, 1] - lo[:, 0]) for j, lo in enumerate(map(lo_hi, (HUE, SATURATION, VALUE))))
    if imaging.hue_jitter > 0 or imaging.dim > 0:  # the default draws exactly as before
        hue = hue + rng.normal(0.0, imaging.hue_jitter, n) * (layout.types != 2)
        val = val * rng.uniform(1.0 - imaging.dim, 1.0, n)
    colours = np.concatenate([np.zeros((1, 3)), hsv_to_rgb(hue, sat, val)]).astype(np.float32)
    texture = np.concatenate([[0.0], np.asarray(TEXTURE)[layout.types]]).astype(np.float32)

    grain = np.clip(_smooth_noise(rng, size, 0.9 * scale), -2.5, 2.5)
    brightness = 1 + texture[instances] * grain
    brightness[nuclei] *= NUCLEUS_DIM
    cells = cv2.merge([colours[:, c][instances] for c in range(3)]) * brightness[..., None]
    image = _background(rng, size, centre, radius, scale)
    image += _glow(cells, scale)
    np.copyto(image, cells, where=(instances > 0)[..., None])
    image *= _illumination(rng, size, imaging.illumination)
    if imaging.blur > 0:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.4, 0.75) * scale * imaging.blur)
    if imaging.noise > 0:
        shot = np.float32(rng.uniform(0.001, 0.004) * imaging.noise)
        read = np.float32(rng.uniform(0.004, 0.012) * imaging.noise)
        sd = np.sqrt(np.maximum(image, 0) * shot + read * read)
        image += sd * _unit_noise(rng, image.shape)
    np.clip(image, 0.0, 1.0, out=image)
    type_of_instance = np.concatenate([[0], layout.types + 1]).astype(np.uint8)
    return np.ascontiguousarray(image.transpose(2, 0, 1)), type_of_instance[instances]
