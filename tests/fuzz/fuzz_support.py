"""What every fuzz test shares: the CLI called in-process, the property every outcome must hold,
junk values, and the per-test example budget.

The property (issue #16 item 6): a command ends in success or in exit 2 with exactly one line
on stderr, never in a traceback or exit 1 (a bug's code), and a failed run never leaves a
store that looks complete (``results.csv`` present, or store status ``complete``).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import math
import os
import time
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import settings
from hypothesis import strategies as st

import core_plugin
from cellxai_core.cli import main

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
TALLY: Counter[str] = Counter()
NOISE: Counter[str] = Counter()  # library warnings / log records on stderr next to an exit 2, by kind
_START = time.perf_counter()


def elapsed() -> float:
    """Seconds since the fuzz support was imported (about the session's start)."""
    return time.perf_counter() - _START


def budget(ci: int, fuzz: int) -> settings:
    """``max_examples`` of one test under the active profile (ci keeps ``make test`` short)."""
    return settings(max_examples=fuzz if PROFILE == "fuzz" else ci)


@dataclass(frozen=True)
class Outcome:
    """What a command line ended in: its exit code, what it printed, and the libraries' noise on stderr."""

    code: int
    out: str
    err: str
    noise: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


QUIET_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)  # Python hides these


class _Noise(logging.Handler):
    """Log records of WARNING and above (what ``cellxai -q`` shows): cellxai's own go to stderr,
    other libraries' are kept apart as noise (one key per logger and level)."""

    def __init__(self, err: io.StringIO, noise: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.err, self.noise = err, noise

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.split(".")[0] == "cellxai":
            self.err.write(f"{record.levelname} {record.getMessage()}\n")
        else:
            self.noise.append(f"{record.levelname} log of {record.name.split('.')[0]}")


def cli(*argv: str) -> Outcome:
    """``cellxai -q ARGV`` in this process (fast: no interpreter or torch start per example).

    What the real command would print on stderr besides its own lines, and pytest would
    otherwise take away, is collected too: log records of WARNING and above, and the warnings
    Python shows by default. Those of libraries (tifffile's per-tag errors, numpy's overflow
    warnings, Pillow's EXIF complaints) come back as ``noise``: lines a user sees, counted in
    the tally, but not cellxai's own output, which is what the property is about.
    """
    out, err, noise = io.StringIO(), io.StringIO(), []
    handler = _Noise(err, noise)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = main(["-q", *(str(a) for a in argv)])
    finally:
        root.removeHandler(handler)
    for w in caught:
        if not issubclass(w.category, QUIET_WARNINGS):
            noise.append(f"{w.category.__name__} from {Path(w.filename).parent.name}/{Path(w.filename).name}: {str(w.message)[:50]}")
    return Outcome(code, out.getvalue(), err.getvalue(), tuple(dict.fromkeys(noise)))


def store_status(out_dir: Path) -> str | None:
    """The run store's status attribute, read from its JSON (no zarr needed), or None."""
    import json

    meta = out_dir / "store.zarr" / "zarr.json"
    if not meta.is_file():
        return None
    return json.loads(meta.read_text()).get("attributes", {}).get("status")


# Open bugs the fuzzers found in code a change may not touch (another item's files): an example that hits
# one is counted by name in the closing tally instead of failing, so the fuzzer keeps looking for other
# bugs behind it. Each entry: name -> what identifies it on stderr; pair it with an xfail(strict) example
# in test_found.py, and delete both once fixed. Empty: every bug found so far is fixed.
KNOWN_BUGS: dict[str, str] = {}


def check(outcome: Outcome, out_dir: Path | None = None, known: bool = True) -> str:
    """Assert the fuzz property; returns how the example ended (counted in the closing tally).

    With ``known`` an example that hits one of ``KNOWN_BUGS`` is tallied instead of failing, and
    library noise on stderr is tallied; without it, noise counts as lines of stderr.
    """
    bug = next((name for name, sign in KNOWN_BUGS.items() if sign in outcome.err), None) if known else None
    if bug is not None:
        TALLY["examples"] += 1
        TALLY[f"known bug: {bug}"] += 1
        return "known bug"
    for item in outcome.noise if outcome.code == 2 else ():
        NOISE[item] += 1
    if not known and outcome.noise:
        outcome = Outcome(outcome.code, outcome.out, outcome.err + "\n".join(outcome.noise))
    text = outcome.out + outcome.err
    assert "Traceback" not in text, text
    assert outcome.code in (0, 2), f"exit {outcome.code} (a bug's code): {outcome.err.strip()}"
    if outcome.code == 2:
        lines = outcome.lines()
        assert len(lines) == 1, f"exit 2 with {len(lines)} lines on stderr:\n{outcome.err}"
        assert lines[0].startswith("error: "), lines[0]
        if out_dir is not None:
            assert not (out_dir / "results.csv").exists(), f"failed run left {out_dir / 'results.csv'}: {lines[0]}"
            assert store_status(out_dir) != "complete", f"failed run left a complete store: {lines[0]}"
        end = "exit 2"
    elif out_dir is not None:
        assert (out_dir / "results.csv").is_file() and store_status(out_dir) == "complete", outcome.out
        end = "finished runs"
    else:
        end = "valid"
    TALLY["examples"] += 1
    TALLY[end] += 1
    return end


# -- pipeline files ---------------------------------------------------------------------------
BASE: dict[str, Any] = {  # the core's fast test components on six small wells: valid, and runs in a second
    **copy.deepcopy(core_plugin.PIPELINE),
    "threads": 1,
    "quality": False,
    "dataset": {"name": "test-blobs", "params": {"n": 6, "size": 12}},
}


def dump(data: Any) -> str:
    """YAML as a user would write it: Unicode kept, keys in the order given (mixed key types do not sort)."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


# -- junk values ------------------------------------------------------------------------------
HUGE = [10**6, 10**8, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1, 10**400]  # sizes, then int64's edges
ODD_FLOATS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0]
ODD_TEXT = ["", " ", "\u00e9t\u00e9", "\u4e2d\u6587", "\U0001f52c", "\u202e", "\x00", "a\nb", "~", "null", "yes", "0x10",
            "1e3", "..", "/", "../../etc/passwd", "x" * 5000, "{", "- a", "*anchor", "!!python/object:os.system"]


def scalars() -> st.SearchStrategy[Any]:
    """One scalar a YAML file can hold, leaning on the values that break parsers and validators."""
    return st.one_of(
        st.none(), st.booleans(), st.integers(-3, 40), st.integers(), st.sampled_from(HUGE),
        st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(ODD_FLOATS),
        st.text(max_size=12), st.sampled_from(ODD_TEXT),
    )


def keys() -> st.SearchStrategy[Any]:
    """Mapping keys: mostly text (Unicode included), sometimes ints, bools or None as YAML allows."""
    return st.one_of(st.text(max_size=10), st.sampled_from(ODD_TEXT[:12]), st.integers(-2, 5), st.booleans(), st.none())


def junk() -> st.SearchStrategy[Any]:
    """Nested junk: scalars, lists and mappings of them, a few levels deep."""
    return st.recursive(
        scalars(), lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys(), inner, max_size=3), max_leaves=8
    )
