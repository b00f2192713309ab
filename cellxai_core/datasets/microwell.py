"""``synthetic-microwell``: CAR-T / cancer co-culture microwells imaged on consecutive days.

Well ``i`` is generated on access from ``SeedSequence([seed, i])`` alone: memory is
O(1) in ``n_wells``, well 9,999 of 10,000 costs what well 0 costs, and a well does not
change when ``n_wells`` does. Truth: the well's response program (``program``), and per
image the counts of cancer / T / dead cells (``counts``, (S, 3)) and the label mask
(``mask``, (S, H, W): 0 background, 1 cancer, 2 T cell, 3 dead).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cellxai_core.data import Sample

from .base import check_index, sample_id
from .objects import ObjectClass
from .microwell_layout import COLONY_SD, GAP, RADIUS_RANGE, Variation, place_cells
from .microwell_render import Imaging, render_image
from .programs import DEFAULT_PROGRAMS, PROGRAMS, planted_counts, program_of_well

REFERENCE_SIZE = 173


def microwell_objects(scale: float = 1.0, radius_range: np.ndarray = RADIUS_RANGE) -> tuple[ObjectClass, ...]:
    """Cancer cells green and saturated, T cells red (hue wraps through 0) and saturated, dead cells pale."""
    d = [round(float(v), 1) for v in radius_range.mean(axis=1) * 2 * scale]  # cancer, T, dead (renderer order)
    return (
        ObjectClass(name="cancer", label="cancer cell", hue=(60.0, 180.0), saturation=(0.3, 1.0), diameter=d[0]),
        ObjectClass(name="t_cell", label="T cell", hue=(300.0, 60.0), saturation=(0.3, 1.0), diameter=d[1]),
        ObjectClass(name="dead", label="dead cell", saturation=(0.0, 0.3), diameter=d[2]),
    )


class SyntheticMicrowell:
    """Lazy generator of microwell time-lapses with planted response programs."""

    channels = ("red", "green", "blue")
    set_axis = "time"
    meta_keys = ("well",)
    truth_keys = ("program", "mask", "counts")
    classes = None

    def __init__(
        self,
        n_wells: int = 256,
        days: int = 5,
        size: int = REFERENCE_SIZE,
        programs: Sequence[str] = DEFAULT_PROGRAMS,
        trend: float = 1.0,
        noise: float = 1.0,
        blur: float = 1.0,
        illumination: float = 1.0,
        seed: int = 0,
        diameters: Sequence[float] | None = None,
        touching: bool = False,
        clumping: float = 1.0,
        hue_jitter: float = 0.0,
        dim: float = 0.0,
        density: Sequence[float] | None = None,
    ) -> None:
        self.n_wells = int(n_wells)
        self.days = int(days)
        self.size = int(size)
        self.programs = tuple(programs)
        for name in self.programs:
            if name not in PROGRAMS:
                raise ValueError(f"unknown program {name!r}; expected one of {list(PROGRAMS)}")
        self.trend = float(trend)
        self.imaging = Imaging(noise=noise, blur=blur, illumination=illumination, hue_jitter=hue_jitter, dim=dim)
        radius_range = RADIUS_RANGE if diameters is None else np.outer(np.asarray(diameters, float) / 2, (0.92, 1.08))
        self.variation = Variation(radius_range, 0.0 if touching else GAP, COLONY_SD * clumping)
        self.density = None if density is None else (float(density[0]), float(density[1]))
        self.seed = int(seed)
        self.set_size = self.days
        self.image_size = (self.size, self.size)
        self.scale = self.size / REFERENCE_SIZE
        self.objects = microwell_objects(self.scale, radius_range)

    def __len__(self) -> int:
        return self.n_wells

    def program(self, index: int) -> str:
        """The planted program of well ``index`` (cheap: no image is drawn)."""
        return program_of_well(check_index(index, self.n_wells), self.programs, self.seed)

    def planned_counts(self, index: int) -> np.ndarray:
        """The target counts (S, 3) of well ``index`` before placement (cheap: no image is drawn)."""
        rng = self._rng(check_index(index, self.n_wells))
        return planted_counts(PROGRAMS[self.program(index)], rng, self.days, self.trend, self.density)

    def describe(self, index: int) -> tuple[str, dict, dict]:
        """(id, meta, scalar truth) of well ``index`` without drawing it (the pipeline's load stage)."""
        index = check_index(index, self.n_wells)
        return sample_id("well", index, self.n_wells), {"well": index}, {"program": self.program(index)}

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, index]))

    def __getitem__(self, index: int) -> Sample:
        index = check_index(index, self.n_wells)
        program = self.program(index)
        rng = self._rng(index)
        target = planted_counts(PROGRAMS[program], rng, self.days, self.trend, self.density)
        size, scale = self.size, self.scale
        well_centre = size / 2 + rng.normal(0, 2.0 * scale, 2)
        well_radius = rng.uniform(74.0, 80.0) * scale
        colonies = well_centre + rng.normal(0, 0.35 * well_radius, (int(rng.integers(2, 5)), 2))
        images = np.empty((self.days, 3, size, size), np.float32)
        masks = np.empty((self.days, size, size), np.uint8)
        counts = np.empty((self.days, 3), np.int64)
        for day in range(self.days):
            centre = well_centre + rng.normal(0, 1.5 * scale, 2)
            colonies = colonies + rng.normal(0, 6.0 * scale, colonies.shape)
            layout = place_cells(rng, target[day], centre, well_radius, colonies, scale, size, self.variation)
            images[day], masks[day] = render_image(layout, rng, size, centre, well_radius, scale, self.imaging)
            counts[day] = layout.counts()
        return Sample(
            id=sample_id("well", index, self.n_wells),
            images=images,
            channels=self.channels,
            set_axis="time",
            meta={"well": index},
            truth={"program": program, "mask": masks, "counts": counts},
        )
