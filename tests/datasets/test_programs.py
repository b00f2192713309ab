"""Response programs: no single day and no time average separates them; the ordered trajectory does."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

from cellxai_core.datasets.microwell import SyntheticMicrowell
from cellxai_core.datasets.programs import PROGRAMS

N_WELLS = 2400
CHANCE = 0.25


@pytest.fixture(scope="module")
def planted() -> tuple[np.ndarray, np.ndarray]:
    """Planted counts (N, 5, 3) and program names of 2,400 wells (cheap: no image is drawn)."""
    ds = SyntheticMicrowell(n_wells=N_WELLS, seed=0)
    counts = np.stack([ds.planned_counts(i) for i in range(N_WELLS)]).astype(float)
    return counts, np.array([ds.program(i) for i in range(N_WELLS)])


def best_accuracy(features: np.ndarray, programs: np.ndarray) -> float:
    """Best 5-fold accuracy of three classifiers (linear, quadratic, nearest neighbours)."""
    models = (LinearDiscriminantAnalysis(), QuadraticDiscriminantAnalysis(), KNeighborsClassifier(75))
    return max(cross_val_score(m, features, programs, cv=5).mean() for m in models)


def test_programs_share_the_time_average(planted) -> None:
    counts, programs = planted
    assert best_accuracy(counts.mean(axis=1), programs) < CHANCE + 0.05


def test_middle_day_carries_no_program_information(planted) -> None:
    counts, programs = planted
    assert best_accuracy(counts[:, 2], programs) < CHANCE + 0.05


@pytest.mark.parametrize("day", [0, 1, 3, 4])
def test_single_days_overlap(planted, day: int) -> None:
    """Monotone trends cannot hide the first and last day completely; they stay far from separable."""
    counts, programs = planted
    accuracy = best_accuracy(counts[:, day], programs)
    assert accuracy < (0.36 if day in (1, 3) else 0.45), accuracy


def test_per_day_distributions_overlap(planted) -> None:
    """Every program's per-day count range covers most of every other program's range."""
    counts, programs = planted
    for day in range(5):
        for kind in range(3):
            ranges = [np.percentile(counts[programs == p, day, kind], [10, 90]) for p in np.unique(programs)]
            low, high = max(r[0] for r in ranges), min(r[1] for r in ranges)
            widest = max(r[1] - r[0] for r in ranges)
            assert high - low > 0.6 * widest, (day, kind, ranges)


def test_ordered_trajectory_separates_programs(planted) -> None:
    counts, programs = planted
    slope = (counts * (np.arange(5) - 2.0)[None, :, None]).sum(1)
    assert best_accuracy(slope, programs) > 0.97


def test_order_is_the_information(planted) -> None:
    """Each well's counts without their order (sorted per cell type) cannot tell a program from its
    time reversal: clearance and escape are then at chance, while the ordered slope separates them."""
    counts, programs = planted
    pair = np.isin(programs, ["clearance", "escape"])
    unordered = np.sort(counts[pair], axis=1).reshape(pair.sum(), -1)
    assert best_accuracy(unordered, programs[pair]) < 0.58
    ordered = (counts[pair] * (np.arange(5) - 2.0)[None, :, None]).sum(1)
    assert best_accuracy(ordered, programs[pair]) > 0.99


def test_program_table() -> None:
    """The defaults pair up as time reversals (clearance / escape) and dead cells rise in all of them."""
    assert PROGRAMS["clearance"].direction[:2] == tuple(-d for d in PROGRAMS["escape"].direction[:2])
    assert PROGRAMS["expansion"].direction[:2] == tuple(-d for d in PROGRAMS["contraction"].direction[:2])
    assert {PROGRAMS[p].direction[2] for p in ("clearance", "escape", "stalemate", "expansion")} == {1}
