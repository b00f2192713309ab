"""Response programs of the synthetic microwells: how the cell counts evolve over the days.

A program fixes the *direction* of change of each cell type (cancer, T, dead): down,
flat or up. Dead cells accumulate in every default program at the same rate, so only
the order of the cancer and T-cell counts tells the programs apart. Each well draws its own mid-course level and its own rate for every type,
and the counts follow ``level + direction * change * (t / (T - 1) - 1/2)``.

Why this hides the program from any single day and from the time average:

- the time average of every well is its level, drawn from the same distribution for
  every program, so time-averaged counts carry no information about the program;
- on the middle day every program sits at its level, so that day carries none either;
- on the other days a program is shifted by at most ``change / 2`` while the levels
  spread with a standard deviation larger than ``change``, so the per-day distributions
  of all programs overlap heavily (cancer and T-cell directions are mirror images:
  clearance <-> escape, expansion <-> contraction);
- the *ordered* trajectory (the sign of each type's slope) tells them apart at once.

No monotone design can make the first and last days *exactly* indistinguishable
(a program that always goes up and one that always goes down cannot have the same
day-0 and day-T distributions), so the overlap there is as large as the image capacity
of a well allows; tests measure it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported inside the functions: the params module imports this one
    import numpy as np

CELL_TYPES = ("cancer", "t_cell", "dead")

# Mid-course level distribution (mean, sd, min, max) and default full change per cell type.
LEVEL_MEAN = (24.0, 24.0, 12.0)
LEVEL_SD = (8.0, 8.0, 4.0)
LEVEL_MIN = (6.0, 6.0, 3.0)
LEVEL_MAX = (42.0, 42.0, 21.0)
CHANGE = (5.0, 5.0, 6.0)  # first day -> last day, before the per-well rate factor
RATE_SPREAD = 0.15  # per-well rate factor uniform in [1 - spread, 1 + spread]
DAY_JITTER = 0.35  # sd of the day-to-day count noise around the trajectory


@dataclass(frozen=True)
class Program:
    """A planted response program: direction of change of cancer, T and dead cells."""

    name: str
    description: str
    direction: tuple[int, int, int]


PROGRAMS: dict[str, Program] = {
    p.name: p
    for p in (
        Program("clearance", "T cells clear the tumour: cancer down, T cells up", (-1, 1, 1)),
        Program("escape", "the tumour escapes: cancer up, T cells down", (1, -1, 1)),
        Program("stalemate", "stalemate: cancer and T cells stay level", (0, 0, 1)),
        Program("expansion", "both expand: cancer and T cells up", (1, 1, 1)),
        Program("contraction", "both decline: cancer and T cells down", (-1, -1, 1)),
        Program("quiescence", "nothing happens: every count stays level, no cells die", (0, 0, 0)),
    )
}
DEFAULT_PROGRAMS = ("clearance", "escape", "stalemate", "expansion")


def program_of_well(index: int, programs: tuple[str, ...], seed: int) -> str:
    """The program of well ``index``: wells come in blocks that hold every program once, shuffled."""
    import numpy as np

    block, slot = divmod(index, len(programs))
    order = np.random.default_rng(np.random.SeedSequence([seed, block, 0x9E37])).permutation(len(programs))
    return programs[int(order[slot])]


def _truncated_normal(rng: "np.random.Generator") -> "np.ndarray":
    """One level per cell type, resampled until it lies inside [LEVEL_MIN, LEVEL_MAX]."""
    import numpy as np

    mean, sd, low, high = (np.asarray(v) for v in (LEVEL_MEAN, LEVEL_SD, LEVEL_MIN, LEVEL_MAX))
    levels = rng.normal(mean, sd)
    for _ in range(64):
        bad = (levels < low) | (levels > high)
        if not bad.any():
            break
        levels[bad] = rng.normal(mean[bad], sd[bad])
    return np.clip(levels, low, high)


def planted_counts(program: Program, rng: "np.random.Generator", days: int, trend: float = 1.0) -> "np.ndarray":
    """Target counts (days, 3) of cancer / T / dead cells for one well following ``program``."""
    import numpy as np

    levels = _truncated_normal(rng)
    rates = np.asarray(CHANGE) * trend * rng.uniform(1.0 - RATE_SPREAD, 1.0 + RATE_SPREAD, size=3)
    phase = np.linspace(-0.5, 0.5, days)[:, None]
    counts = levels + np.asarray(program.direction) * rates * phase
    counts = counts + rng.normal(0.0, DAY_JITTER, size=counts.shape)
    return np.maximum(np.rint(counts), 1).astype(np.int64)
