"""Paint one synthetic fluorescence cell: vimentin (R), actin (G) and DNA / DAPI (B).

A hidden phenotype ``p`` in [0, 1] (0: normal fibroblast, 1: transformed, metastasizing
cell) sets every class-related property; the class only shifts the distribution of
``p`` (see :func:`phenotype`), so the two classes overlap as much as ``difficulty`` asks.

- shape: normal cells are large, spread and elongated with irregular protrusions, and
  vary a lot from cell to cell; metastatic cells are smaller, rounder, smoother and
  alike;
- vimentin: curved filaments growing from the nucleus; in normal cells they reach the
  cell periphery, in metastatic cells they collapse into a dense perinuclear cage;
- actin: aligned stress fibres along the long axis in normal cells; fewer, disordered
  fibres and a brighter cortical rim in metastatic cells;
- DAPI: a textured oval nucleus with chromocentres and nucleoli, alike in both classes.

Each channel is finally scaled to a mean intensity drawn independently of the class, so
the mean brightness of a channel says nothing about the class (a trivial classifier on
mean intensities stays near chance); only the spatial organisation does.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

OUTLINE_VERTICES = 96
SUBPIXEL_BITS = 4
CHANNEL_MEAN = ((0.03, 0.06), (0.035, 0.07), (0.012, 0.022))  # vimentin, actin, dapi: target mean after scaling


def phenotype(rng: np.random.Generator, metastatic: bool, difficulty: float) -> float:
    """Hidden phenotype in [0, 1]: z ~ N(+-d'/2, 1) with d' = 5.2 (1 - difficulty), squashed by a probit."""
    separation = 5.2 * (1.0 - difficulty)
    z = rng.normal(separation / 2 if metastatic else -separation / 2, 1.0)
    return 0.5 * (1.0 + math.erf(z / (1.6 * math.sqrt(2.0))))


def _outline(rng: np.random.Generator, p: float, size: int) -> tuple[np.ndarray, float, float]:
    """Cell outline radii r(theta) (V,), the long-axis angle and the area-equivalent radius, in pixels."""
    k = size / 128.0
    spread = 0.35 + 0.65 * (1.0 - p)  # normal cells vary more
    r_eq = (25.0 + 11.0 * (1.0 - p)) * k * math.exp(rng.normal(0, 0.12 * spread + 0.04))
    aspect = 1.05 + (1.7 * (1.0 - p) + 0.1) * rng.uniform(1 - 0.6 * spread, 1 + 0.6 * spread)
    theta = np.linspace(0, 2 * np.pi, OUTLINE_VERTICES, endpoint=False)
    ellipse = 1.0 / np.sqrt((np.cos(theta) / aspect) ** 2 + (np.sin(theta)) ** 2)
    shape = np.ones_like(theta)
    n_arms = int(rng.poisson(0.5 + 4.0 * (1.0 - p) * spread))
    for _ in range(n_arms):
        centre = rng.choice([0.0, np.pi]) + rng.normal(0, 0.9) if rng.random() < 0.6 else rng.uniform(0, 2 * np.pi)
        width = rng.uniform(0.12, 0.35)
        amp = rng.uniform(0.2, 0.7) * (1.0 - p) + 0.05
        d = np.angle(np.exp(1j * (theta - centre)))
        shape += amp * np.exp(-0.5 * (d / width) ** 2)
    for harmonic in range(3, 11):
        amp = (0.08 * (1.0 - p) + 0.02) / harmonic**0.6
        shape += rng.normal(0, amp) * np.cos(harmonic * theta + rng.uniform(0, 2 * np.pi))
    radii = ellipse * np.clip(shape, 0.45, None)
    radii *= r_eq / math.sqrt(np.mean(radii**2))  # polygon area ~ pi * mean(r^2) / ... keeps r_eq
    limit = 0.46 * size
    if radii.max() > limit:
        radii *= limit / radii.max()
    return radii, rng.uniform(0, np.pi), float(math.sqrt(np.mean(radii**2)))


def _polar_to_xy(radii: np.ndarray, rotation: float, centre: np.ndarray) -> np.ndarray:
    theta = np.linspace(0, 2 * np.pi, len(radii), endpoint=False) + rotation
    return centre + np.stack([radii * np.cos(theta), radii * np.sin(theta)], axis=-1)


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.rint(points * (1 << SUBPIXEL_BITS)).astype(np.int32)


def _radius_at(radii: np.ndarray, rotation: float, angles: np.ndarray) -> np.ndarray:
    """The outline radius in the directions ``angles`` (absolute, radians)."""
    v = len(radii)
    pos = np.mod(angles - rotation, 2 * np.pi) / (2 * np.pi) * v
    i = np.floor(pos).astype(int) % v
    frac = pos - np.floor(pos)
    return radii[i] * (1 - frac) + radii[(i + 1) % v] * frac


def _smooth_noise(rng: np.random.Generator, size: int, cell: float) -> np.ndarray:
    coarse = max(2, int(round(size / cell)))
    return cv2.resize(rng.standard_normal((coarse, coarse)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)


def _vimentin(
    rng: np.random.Generator, p: float, size: int, centre: np.ndarray, radii: np.ndarray, rotation: float,
    nucleus_r: float,
) -> np.ndarray:
    """Curved filaments from the nucleus towards the periphery (normal) or a perinuclear cage (metastatic)."""
    k = size / 128.0
    canvas = np.zeros((size, size), np.float32)
    n = int(rng.integers(120, 200))
    start_angle = rng.uniform(0, 2 * np.pi, n)
    room = np.maximum(_radius_at(radii, rotation, start_angle) - nucleus_r, 2.0)
    # in spread (normal) cells part of the network starts out in the cytoplasm, not at the nucleus
    offset = np.where(rng.random(n) < 0.55 * (1.0 - p), rng.uniform(0.2, 0.7, n), 0.0) * room
    reach = np.clip(1.05 - 0.8 * p + rng.normal(0, 0.06), 0.15, 1.05) * rng.uniform(0.65, 1.15, n)
    lengths = np.maximum((room - offset) * reach, 2.0)
    step = 1.5 * k
    steps = int(np.ceil(lengths.max() / step)) + 1
    heading = start_angle[:, None] + np.cumsum(rng.normal(0, 0.16, (n, steps)), axis=1) + rng.normal(0, 0.45, (n, 1))
    start = centre + (nucleus_r * 0.9 + offset)[:, None] * np.stack([np.cos(start_angle), np.sin(start_angle)], axis=-1)
    path = start[:, None] + np.cumsum(step * np.stack([np.cos(heading), np.sin(heading)], axis=-1), axis=1)
    count = np.maximum((lengths / step).astype(int), 2)
    fixed = _fixed(path)
    levels = rng.integers(0, 3, n)
    for level, value in enumerate((0.3, 0.5, 0.75)):
        group = [fixed[i, : count[i]] for i in np.flatnonzero(levels == level)]
        cv2.polylines(canvas, group, False, value, 1, cv2.LINE_AA, SUBPIXEL_BITS)
    canvas = np.asarray(cv2.GaussianBlur(canvas, (0, 0), 0.6 * k) * 1.4, dtype=np.float32)
    cage = np.zeros_like(canvas)
    c = tuple(int(v) for v in _fixed(centre))
    radius = int(round((nucleus_r + (3 + 4 * p) * k) * (1 << SUBPIXEL_BITS)))
    cv2.circle(cage, c, radius, 1.0, max(1, int(round((3 + 5 * p) * k))), cv2.LINE_AA, SUBPIXEL_BITS)
    cage = np.asarray(cv2.GaussianBlur(cage, (0, 0), 2.5 * k), dtype=np.float32)
    return canvas + (0.05 + 1.2 * p) * cage * (1 + 0.4 * _smooth_noise(rng, size, 4 * k))


def _actin(
    rng: np.random.Generator, p: float, size: int, centre: np.ndarray, outline: np.ndarray, cell: np.ndarray,
    rotation: float, r_eq: float,
) -> np.ndarray:
    """Stress fibres along the long axis (normal) or fewer, disordered fibres and a cortical rim (metastatic)."""
    k = size / 128.0
    canvas = np.zeros((size, size), np.float32)
    n = int(round((10 + 45 * (1 - p)) * rng.uniform(0.7, 1.3)))
    ys, xs = np.nonzero(cell)
    pick = rng.integers(0, len(xs), n)
    mid = np.stack([xs[pick], ys[pick]], axis=-1).astype(float)
    angle = rotation + rng.normal(0, 0.15 + 0.9 * p, n)
    half = r_eq * rng.uniform(0.5, 1.3, n)
    d = np.stack([np.cos(angle), np.sin(angle)], axis=-1) * half[:, None]
    lines = np.stack([mid - d, mid + d], axis=1)
    levels = rng.integers(0, 3, n)
    for level, value in enumerate((0.25, 0.4, 0.6)):
        cv2.polylines(canvas, list(_fixed(lines[levels == level])), False, value, 1, cv2.LINE_AA, SUBPIXEL_BITS)
    cortex = np.zeros_like(canvas)
    cv2.polylines(cortex, [_fixed(outline)], True, 1.0, max(1, int(round(3 * k))), cv2.LINE_AA, SUBPIXEL_BITS)
    cortex = np.asarray(cv2.GaussianBlur(cortex, (0, 0), 1.2 * k) * np.clip(1 + 0.6 * _smooth_noise(rng, size, 5 * k), 0, None), dtype=np.float32)
    diffuse = 0.18 * np.clip(1 + 0.35 * _smooth_noise(rng, size, 6 * k), 0, None)
    return cv2.GaussianBlur(canvas, (0, 0), 0.5 * k) + (0.1 + 0.4 * p) * cortex + diffuse


def _dapi(rng: np.random.Generator, size: int, nucleus: np.ndarray, centre: np.ndarray, nucleus_r: float) -> np.ndarray:
    """A textured nucleus with a few bright chromocentres and dark nucleoli."""
    k = size / 128.0
    canvas = nucleus.astype(np.float32) * 0.75
    canvas *= 1 + 0.25 * _smooth_noise(rng, size, 2.5 * k)
    for _ in range(int(rng.integers(4, 10))):
        spot = centre + rng.normal(0, 0.45 * nucleus_r, 2)
        cv2.circle(canvas, tuple(int(v) for v in _fixed(spot)), int(1.2 * k * (1 << SUBPIXEL_BITS)), 1.0, -1, cv2.LINE_AA, SUBPIXEL_BITS)
    for _ in range(int(rng.integers(1, 4))):
        spot = centre + rng.normal(0, 0.35 * nucleus_r, 2)
        cv2.circle(canvas, tuple(int(v) for v in _fixed(spot)), int(2.0 * k * (1 << SUBPIXEL_BITS)), 0.35, -1, cv2.LINE_AA, SUBPIXEL_BITS)
    return canvas * nucleus


def render_cell(rng: np.random.Generator, p: float, size: int, difficulty: float) -> tuple[np.ndarray, np.ndarray]:
    """One cell: image (3, H, W) float32 in [0, 1] (vimentin, actin, dapi) and mask (H, W) uint8 (0/1/2)."""
    k = size / 128.0
    centre = size / 2 + rng.normal(0, 0.03 * size, 2)
    radii, rotation, r_eq = _outline(rng, p, size)
    outline = _polar_to_xy(radii, rotation, centre)
    cell = np.zeros((size, size), np.uint8)
    cv2.fillPoly(cell, [_fixed(outline)], 1, cv2.LINE_8, SUBPIXEL_BITS)

    nucleus_r = min(rng.normal(10.5, 1.2) * k, 0.55 * float(radii.min()))
    n_aspect = rng.uniform(1.05, 1.4)
    n_centre = centre + rng.normal(0, 0.1 * nucleus_r, 2)
    nucleus = np.zeros_like(cell)
    axes = (int(nucleus_r * math.sqrt(n_aspect) * (1 << SUBPIXEL_BITS)), int(nucleus_r / math.sqrt(n_aspect) * (1 << SUBPIXEL_BITS)))
    cv2.ellipse(nucleus, tuple(int(v) for v in _fixed(n_centre)), axes, math.degrees(rotation), 0, 360, 1, -1, cv2.LINE_8, SUBPIXEL_BITS)
    nucleus &= cell

    cell_f = cv2.GaussianBlur(cell.astype(np.float32), (0, 0), 0.7 * k)
    vim = _vimentin(rng, p, size, n_centre, radii, rotation, nucleus_r) * cell_f
    act = _actin(rng, p, size, centre, outline, cell, rotation, r_eq) * cell_f
    dna = _dapi(rng, size, nucleus, n_centre, nucleus_r)
    image = np.stack([vim, act, dna])

    blur = (0.6 + 0.8 * difficulty * rng.random()) * k
    noise = 0.008 + 0.03 * difficulty
    for c, (lo, hi) in enumerate(CHANNEL_MEAN):
        channel = cv2.GaussianBlur(image[c], (0, 0), blur)
        channel *= rng.uniform(lo, hi) / max(float(channel.mean()), 1e-6)
        channel += rng.uniform(0.005, 0.03) + noise * rng.standard_normal(channel.shape).astype(np.float32)
        image[c] = channel
    np.clip(image, 0.0, 1.0, out=image)
    mask = cell + nucleus  # 0 background, 1 cell, 2 nucleus
    return image.astype(np.float32, copy=False), mask
