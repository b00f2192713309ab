"""Where the cells of one microwell image sit, and what shape each has.

Cells never overlap: a candidate must clear, by a gap, the painted footprints already
placed and the well edge (checked on a distance map at every vertex of its outline),
and the bounding discs of the candidates accepted before it. So the label mask is the
exact painted footprint of each cell and every coloured pixel belongs to one cell type.
Cancer cells grow in loose colonies that drift from day to day; T cells and dead cells
gather next to cancer cells (attack and killing), the rest scatter over the well.

Cancer cells are placed first, then dead and T cells together in the gaps (small and
round, so their bounding discs are tight); another batch runs only for cells that did
not fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

# Per cell type (cancer, T, dead), in pixels at the reference size 173:
RADIUS_RANGE = np.array([(4.6, 5.4), (3.4, 3.9), (3.0, 3.8)])
ELONGATION_MAX = np.array([1.3, 1.12, 1.2])
ROUGHNESS = np.array([0.10, 0.04, 0.18])  # amplitude of the low harmonics of the outline
NEAR_ANCHOR = np.array([0.5, 0.5, 0.5])  # share of candidates drawn next to a colony / cancer cell
COLONY_SD = 16.0
PLACE_GROUPS = ((0,), (2, 1))  # cancer first (large, elongated), then dead and T cells in the gaps
GAP = 1.0  # minimum free space between two cells and between a cell and the well edge
EDGE_MARGIN = 2.5  # cells keep this far inside the well rim
CANDIDATES = (3, 5, 3)  # candidates per missing cell and round; T cells fill the narrowest gaps
ROUNDS = 6  # candidate batches before giving up on cells that do not fit
VERTICES = 16
SUBPIXEL_BITS = 4
HARMONICS = (2, 3, 5)
_THETA = np.linspace(0.0, 2 * np.pi, VERTICES, endpoint=False)
_COS, _SIN = np.cos(_THETA), np.sin(_THETA)
_HARMONIC_BASIS = np.concatenate([np.cos(np.outer(HARMONICS, _THETA)), np.sin(np.outer(HARMONICS, _THETA))])


@dataclass
class Layout:
    """The cells of one image: outlines (N, V, 2) in pixels, type (N,) 0 cancer / 1 T / 2 dead,
    centres (N, 2) as (x, y), nominal radii (N,)."""

    outlines: np.ndarray
    types: np.ndarray
    centres: np.ndarray
    radii: np.ndarray

    def counts(self) -> np.ndarray:
        return np.bincount(self.types, minlength=3)[:3].astype(np.int64)


@dataclass(frozen=True, eq=False)
class Variation:
    """Knobs of the randomised family (issue #13): cell radii per type (px at size 173), the gap
    between cells (0: cells may touch) and how tightly cancer colonies clump."""

    radius_range: np.ndarray = field(default_factory=lambda: RADIUS_RANGE)
    gap: float = GAP
    colony_sd: float = COLONY_SD


DEFAULT_VARIATION = Variation()


def _outlines(
    rng: np.random.Generator, kinds: np.ndarray, scale: float, radius_range: np.ndarray = RADIUS_RANGE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random cell outlines around the origin: vertices (n, V, 2), bounding radius (n,), nominal radius (n,)."""
    n = len(kinds)
    lo, hi = radius_range[kinds, 0], radius_range[kinds, 1]
    radius = (lo + (hi - lo) * rng.random(n)) * scale
    rough = ROUGHNESS[kinds][:, None]
    # sum over harmonics h of amp_h * cos(h * theta + phase_h), as a (n, 2H) @ (2H, V) product
    amp = rough * rng.random((n, len(HARMONICS))) / np.sqrt(np.asarray(HARMONICS) - 1.0)
    phase = rng.uniform(0, 2 * np.pi, (n, len(HARMONICS)))
    coef = np.concatenate([amp * np.cos(phase), -amp * np.sin(phase)], axis=1)
    wobble = 1.0 + coef @ _HARMONIC_BASIS + rough / 4 * rng.standard_normal((n, VERTICES))
    rho = radius[:, None] * np.clip(wobble, 0.6, None)
    elong = (1.0 + (ELONGATION_MAX[kinds] - 1.0) * rng.random(n))[:, None]
    x, y = rho * _COS * elong, rho * _SIN / elong
    angle = rng.uniform(0, np.pi, n)[:, None]
    ca, sa = np.cos(angle), np.sin(angle)
    verts = np.stack([x * ca - y * sa, x * sa + y * ca], axis=-1)
    return verts, np.sqrt((verts**2).sum(-1)).max(1), radius


def _well_canvas(size: int, centre: np.ndarray, inner: float) -> np.ndarray:
    """uint8 (H, W): 255 where a cell may lie (inside the well, away from its rim), else 0."""
    free = np.zeros((size, size), np.uint8)
    one = 1 << SUBPIXEL_BITS
    cx, cy = (int(v) for v in np.rint(centre * one))
    cv2.circle(free, (cx, cy), int(inner * one), 255, -1, cv2.LINE_8, SUBPIXEL_BITS)
    return free


def _block(free: np.ndarray, outlines: np.ndarray) -> None:
    """Mark the painted footprints of ``outlines`` (N, V, 2) as taken."""
    if len(outlines):
        fixed = np.rint(outlines * (1 << SUBPIXEL_BITS)).astype(np.int32)
        cv2.fillPoly(free, list(fixed), 0, cv2.LINE_8, SUBPIXEL_BITS)


def _candidates(
    rng: np.random.Generator,
    kinds: np.ndarray,
    bound: np.ndarray,
    distance: np.ndarray,
    centre: np.ndarray,
    radius: float,
    anchors: tuple[np.ndarray, np.ndarray],
    scale: float,
    variation: Variation = DEFAULT_VARIATION,
) -> np.ndarray:
    """Candidate centres (n, 2): a share of each type next to an anchor, the rest uniform in free space.

    Anchors are colony centres for cancer cells (``anchor bound`` 0: a Gaussian cloud) and the
    placed cancer cells for T and dead cells (just outside the cancer cell's bounding disc).
    """
    n, size = len(kinds), distance.shape[0]
    room = np.flatnonzero(distance.ravel() >= variation.radius_range[kinds[-1], 0] * scale + variation.gap * scale + 1.0)
    if len(room):
        y, x = np.divmod(room[rng.integers(0, len(room), n)], size)
        pos = np.stack([x, y], axis=-1) + rng.uniform(-0.5, 0.5, (n, 2))
    else:  # a full well: candidates without a place fail the clearance test
        pos = np.full((n, 2), -1e6)
    anchor_pos, anchor_bound = anchors
    if len(anchor_pos):
        near = rng.random(n) < NEAR_ANCHOR[kinds]
        j = rng.integers(0, len(anchor_pos), n)
        if kinds[0] == 0:
            around = anchor_pos[j] + rng.standard_normal((n, 2)) * variation.colony_sd * scale
        else:
            dist = anchor_bound[j] + bound + variation.gap * scale + rng.uniform(0, 5 * scale, n)
            angle = rng.uniform(0, 2 * np.pi, n)
            around = anchor_pos[j] + dist[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
        pos[near] = around[near]
    return pos


def _clears(distance: np.ndarray, shapes: np.ndarray, centres: np.ndarray, gap: float) -> np.ndarray:
    """Which candidate outlines (N, V, 2) keep ``gap`` from everything already taken."""
    size = distance.shape[0]
    inside = (shapes >= 0).all((1, 2)) & (shapes <= size - 1).all((1, 2))
    vx = np.clip(np.rint(shapes).astype(int), 0, size - 1)
    cx = np.clip(np.rint(centres).astype(int), 0, size - 1)
    clear = (distance[vx[..., 1], vx[..., 0]] >= gap + 1.0).all(1) & (distance[cx[:, 1], cx[:, 0]] >= gap + 1.0)
    return inside & clear


def _greedy(pos: np.ndarray, bound: np.ndarray, kinds: np.ndarray, ok: np.ndarray, need: np.ndarray, gap: float) -> np.ndarray:
    """Accept valid candidates in order while their type still needs cells and they clear those accepted."""
    valid = np.flatnonzero(ok)
    p, b = pos[valid], bound[valid]
    d2 = ((p[:, None] - p[None]) ** 2).sum(-1)
    rows, cols = np.nonzero(d2 < (b[:, None] + b[None] + gap + 1.0) ** 2)
    starts = np.searchsorted(rows, np.arange(len(valid) + 1)).tolist()
    cols_list = cols.tolist()
    blocked = bytearray(len(valid))
    left = need.tolist()
    keep = np.zeros(len(pos), dtype=bool)
    for j, kind in enumerate(kinds[valid].tolist()):
        if blocked[j] or left[kind] <= 0:
            continue
        keep[valid[j]] = True
        left[kind] -= 1
        for other in cols_list[starts[j] : starts[j + 1]]:
            blocked[other] = 1
    return keep


def place_cells(
    rng: np.random.Generator,
    counts: np.ndarray,
    well_centre: np.ndarray,
    well_radius: float,
    colonies: np.ndarray,
    scale: float,
    size: int,
    variation: Variation = DEFAULT_VARIATION,
) -> Layout:
    """Non-overlapping cells inside the well: as many of each type as ``counts`` asks, when they fit
    (with ``variation.gap`` 0 they may touch, never overlap)."""
    gap = variation.gap * scale
    inner = well_radius - EDGE_MARGIN * scale
    free = _well_canvas(size, well_centre, inner)
    need = np.asarray(counts, dtype=np.int64).copy()
    outlines: list[Any] = []
    types: list[int] = []
    radii: list[float] = []
    centres: list[Any] = []
    bounds: list[Any] = []
    anchors = (np.asarray(colonies, float).reshape(-1, 2), np.zeros(len(colonies)))
    for group, _ in ((g, r) for g in PLACE_GROUPS for r in range(ROUNDS)):
        if need[list(group)].sum() <= 0:
            continue
        kinds = np.concatenate([np.full(CANDIDATES[k] * need[k] + 12 if need[k] > 0 else 0, k) for k in group]).astype(int)
        verts, bound, radius = _outlines(rng, kinds, scale, variation.radius_range)
        distance = cv2.distanceTransform(free, cv2.DIST_L2, 3)
        if group[0] != 0 and types:
            cancer = np.concatenate(types) == 0
            anchors = (np.concatenate(centres)[cancer], np.concatenate(bounds)[cancer])
        pos = _candidates(rng, kinds, bound, distance, well_centre, inner, anchors, scale, variation)
        shapes = verts + pos[:, None]
        keep = _greedy(pos, bound, kinds, _clears(distance, shapes, pos, gap), need, gap)
        need -= np.bincount(kinds[keep], minlength=3)
        _block(free, shapes[keep])
        outlines.append(shapes[keep])
        types.append(kinds[keep])
        radii.append(radius[keep])
        centres.append(pos[keep])
        bounds.append(bound[keep])
    if not types:
        return Layout(np.zeros((0, VERTICES, 2)), np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0))
    return Layout(
        np.concatenate(outlines), np.concatenate(types).astype(np.int64), np.concatenate(centres), np.concatenate(radii)
    )
