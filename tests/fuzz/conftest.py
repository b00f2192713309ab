"""Hypothesis profiles of the fuzz tests, the registry they run with, and the closing tally.

Two profiles, chosen by ``HYPOTHESIS_PROFILE``:

- ``ci`` (default): derandomised and short (a few hundred examples over the folder), so
  ``make test`` stays well under a minute here and a failure reproduces on every machine;
- ``fuzz`` (``make fuzz``): random, >= 10,000 examples in total, with an example database
  under ``runs/`` so a failure found once is replayed first the next time.

Each test sets its own share of the budget with :func:`fuzz_support.budget`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

FUZZ = Path(__file__).parent
sys.path.insert(0, str(FUZZ))
sys.path.insert(0, str(FUZZ.parent))

import core_plugin  # noqa: E402
import fuzz_support  # noqa: E402
from cellxai_core.testing import use_plugins  # noqa: E402

_COMMON: dict[str, Any] = {
    "deadline": None,  # a run's time depends on a shared 2-core machine, not on the example
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    "print_blob": True,
}
# ci does not shrink: a failure is reported as found (shrinking a slow one took minutes)
settings.register_profile("ci", derandomize=True, database=None, phases=[Phase.explicit, Phase.generate], **_COMMON)
settings.register_profile(
    "fuzz", database=DirectoryBasedExampleDatabase(str(FUZZ.parents[1] / "runs" / ".hypothesis")), **_COMMON
)
settings.load_profile(fuzz_support.PROFILE)


@pytest.fixture(autouse=True, scope="module")
def memory_cap() -> Iterator[None]:
    """Cap the address space while a fuzz module runs, so an input that makes cellxai allocate without
    bound fails its example (MemoryError, exit 1) instead of drawing the kernel's OOM killer on a machine
    others share. Torch alone reserves ~4.5 GB; FUZZ_MEMORY_GB=0 lifts the cap. The old limit comes back
    afterwards: the cap is inherited by every child process, and Chromium (the report's browser test,
    later in the same pytest run) dies with SIGTRAP under it."""
    import resource

    gigabytes = float(os.environ.get("FUZZ_MEMORY_GB", "10"))
    before = resource.getrlimit(resource.RLIMIT_AS)
    if gigabytes > 0:
        soft, hard = before
        cap = int(gigabytes * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, before)


@pytest.fixture(scope="module")
def fuzz_registry() -> Iterator[Any]:
    """The installed plugins plus the core's fast test components, shared by every example of a module."""
    with use_plugins(core_plugin, installed=True) as reg:
        yield reg


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line that ``make fuzz`` is quoted by: examples, what they ended in, failures, seconds."""
    tally = fuzz_support.TALLY
    if not tally["examples"]:
        return
    failed = len(terminalreporter.stats.get("failed", []))
    ends = ", ".join(f"{k} {v}" for k, v in sorted(tally.items()) if k != "examples")
    terminalreporter.write_line(
        f"fuzz ({fuzz_support.PROFILE} profile): {tally['examples']} examples ({ends}); "
        f"{failed} failing tests; {fuzz_support.elapsed():.0f} s"
    )
    for item, count in fuzz_support.NOISE.most_common():
        terminalreporter.write_line(f"  library noise on stderr next to an exit 2, {count} examples: {item}")
