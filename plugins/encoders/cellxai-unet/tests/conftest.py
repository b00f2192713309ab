"""Painted microwells with exact truth, so the tests do not depend on the built-in datasets."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from cellxai_core.context import RunContext
from cellxai_core.data import Sample
from cellxai_core.datasets.objects import parse_objects
from cellxai_core.progress import progress

COLORS = {1: (0.15, 0.85, 0.2), 2: (0.9, 0.15, 0.1), 3: (0.75, 0.72, 0.7)}  # cancer green, T red, dead pale
RADII = {1: 5, 2: 3, 3: 4}
# what a user declares for such wells (diameters left to the estimate)
OBJECTS = parse_objects([
    {"name": "cancer", "hue": [60, 180], "saturation": [0.3, 1]},
    {"name": "t_cell", "label": "T cell", "hue": [300, 60], "saturation": [0.3, 1]},
    {"name": "dead", "saturation": [0, 0.3]},
])


def paint_image(counts: dict[int, int], size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """An RGB image (3, H, W) of non-overlapping discs on a dim well disc, and its label mask (H, W)."""
    mask = np.zeros((size, size), np.uint8)
    occupied = np.zeros((size, size), np.uint8)
    image = np.zeros((size, size, 3), np.float32)
    cv2.circle(image, (size // 2, size // 2), size // 2 - 1, (0.08, 0.08, 0.1), -1)
    for label, n in counts.items():
        r = max(2, round(RADII[label] * size / 64))
        placed = 0
        for _ in range(2000):
            if placed == n:
                break
            x, y = rng.integers(r + 2, size - r - 2, size=2)
            probe = np.zeros_like(occupied)
            cv2.circle(probe, (int(x), int(y)), r + 2, 1, -1)
            if (probe & occupied).any():
                continue
            occupied |= probe
            cv2.circle(mask, (int(x), int(y)), r, label, -1)
            cv2.circle(image, (int(x), int(y)), r, COLORS[label], -1)
            placed += 1
        assert placed == n, "painting ran out of room"
    image = cv2.GaussianBlur(image, (3, 3), 0.6)
    image = image * rng.uniform(0.8, 1.0) + rng.normal(0, 0.015, image.shape).astype(np.float32)
    return np.clip(image, 0, 1).transpose(2, 0, 1).astype(np.float32), mask.astype(np.int64)


class PaintedWells:
    """Wells of two programs: cancer rising (program 0) or falling (program 1); T / dead vary too."""

    channels = ("R", "G", "B")
    set_axis = "time"
    truth_keys = ("program", "mask", "counts")
    objects = OBJECTS

    def __init__(self, n: int = 8, size: int = 64, days: int = 5, seed: int = 0) -> None:
        self.n, self.size, self.set_size, self.seed = n, size, days, seed
        self.image_size = (size, size)

    def __len__(self) -> int:
        return self.n

    def trajectory(self, i: int) -> tuple[int, np.ndarray]:
        program = i % 2
        cancer = np.linspace(2, 6, self.set_size).round().astype(int)
        if program:
            cancer = cancer[::-1]
        t_cells = np.full(self.set_size, 3)
        dead = np.arange(self.set_size) % 3
        return program, np.stack([cancer, t_cells, dead], axis=1)

    def __getitem__(self, i: int) -> Sample:
        rng = np.random.default_rng([self.seed, i])
        program, counts = self.trajectory(i)
        images, masks = zip(*(paint_image({1: c[0], 2: c[1], 3: c[2]}, self.size, rng) for c in counts))
        return Sample(
            id=f"well{i}", images=np.stack(images), channels=self.channels, set_axis="time",
            truth={"program": program, "mask": np.stack(masks), "counts": counts},
        )


@pytest.fixture
def painted() -> PaintedWells:
    return PaintedWells()


def make_context(dataset, tmp_path: Path | None = None, seed: int = 0) -> RunContext:
    """A real RunContext with no store: what pretrain() sees in a run."""
    return RunContext(
        config=None, dataset=dataset, store=None, run_dir=tmp_path or Path("."), device="cpu", seed=seed,
        progress=progress,
    )


@pytest.fixture
def wells_factory():
    """``wells_factory(n=.., size=.., days=.., seed=..)`` -> PaintedWells."""
    return PaintedWells


@pytest.fixture
def context_of():
    """``context_of(dataset)`` -> a RunContext on the CPU."""
    return make_context
