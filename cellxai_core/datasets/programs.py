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
    """A planted response program: direction and shape of the change of cancer, T and dead cells.

    ``shape`` per type (see ``SHAPES``): linear (the default programs), early (most of the change in
    the first days), late (most in the last days), rise_fall (up, then down below the start: growth,
    then killing), transient (up and back: a count that returns to where it started).
    """

    name: str
    description: str
    direction: tuple[int, int, int]
    shape: tuple[str, str, str] = ("linear", "linear", "linear")


PROGRAMS: dict[str, Program] = {
    p.name: p
    for p in (
        Program("clearance", "T cells clear the tumour: cancer down, T cells up", (-1, 1, 1)),
        Program("escape", "the tumour escapes: cancer up, T cells down", (1, -1, 1)),
        Program("stalemate", "stalemate: cancer and T cells stay level", (0, 0, 1)),
        Program("expansion", "both expand: cancer and T cells up", (1, 1, 1)),
        Program("contraction", "both decline: cancer and T cells down", (-1, -1, 1)),
        Program("quiescence", "nothing happens: every count stays level, no cells die", (0, 0, 0)),
        Program("early_killing", "T cells kill at once: cancer falls in the first days, T cells rise early",
                (-1, 1, 1), ("early", "early", "early")),
        Program("late_killing", "the tumour grows, then is killed: cancer up, then down below its start; T cells rise late",
                (1, 1, 1), ("rise_fall", "late", "late")),
        Program("transient_growth", "cancer grows and returns to its start; T cells stay level",
                (1, 0, 1), ("transient", "linear", "linear")),
    )
}
RANDOMISED_PROGRAMS = ("early_killing", "late_killing", "escape", "stalemate", "expansion")
SHAPE_TAU = 0.25  # time constant (fraction of the course) of the early / late shapes


def shape_curve(shape: str, t: "np.ndarray") -> "np.ndarray":
    """The change of a count over the course t in [0, 1], from -1/2 at the start to +1/2 at the end
    (transient: 0 at both ends and +1 in the middle; rise_fall: +1 at 40 %, -0.7 at the end)."""
    import numpy as np

    if shape == "linear":
        return t - 0.5
    if shape == "early":
        return (1 - np.exp(-t / SHAPE_TAU)) / (1 - np.exp(-1 / SHAPE_TAU)) - 0.5
    if shape == "late":
        return (np.exp(t / SHAPE_TAU) - 1) / (np.exp(1 / SHAPE_TAU) - 1) - 0.5
    if shape == "transient":
        return np.sin(np.pi * t)
    if shape == "rise_fall":
        return np.sin(1.25 * np.pi * t)
    raise ValueError(f"unknown trajectory shape {shape!r}")
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


def planted_counts(
    program: Program, rng: "np.random.Generator", days: int, trend: float = 1.0,
    density: tuple[float, float] | None = None,
) -> "np.ndarray":
    """Target counts (days, 3) of cancer / T / dead cells for one well following ``program``.

    ``density`` (low, high): mid-course levels uniform in that range for every type, and changes
    scaled with the level (CHANGE is relative to the default mean level), instead of the default
    truncated normal levels.
    """
    import numpy as np

    if density is None:
        levels = _truncated_normal(rng)
        change = np.asarray(CHANGE)
    else:
        levels = rng.uniform(density[0], density[1], size=3)
        change = np.asarray(CHANGE) * levels / np.asarray(LEVEL_MEAN)
    rates = change * trend * rng.uniform(1.0 - RATE_SPREAD, 1.0 + RATE_SPREAD, size=3)
    t = np.linspace(0.0, 1.0, days)
    if program.shape == ("linear", "linear", "linear"):  # the default programs draw exactly as before
        phase = np.linspace(-0.5, 0.5, days)[:, None]
    else:
        phase = np.stack([shape_curve(s, t) for s in program.shape], axis=1)
    counts = levels + np.asarray(program.direction) * rates * phase
    counts = counts + rng.normal(0.0, DAY_JITTER, size=counts.shape)
    return np.maximum(np.rint(counts), 1).astype(np.int64)
