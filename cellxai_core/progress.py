"""Progress of long stages: a rich bar on a terminal, a few plain log lines otherwise."""

from __future__ import annotations

import logging
import os
import sys
import time
from types import TracebackType
from typing import Any

log = logging.getLogger("cellxai")
STOP: dict[str, int | None] = {"signal": None}  # set by a signal handler (cellxai_core.rundir)


class StopRequested(KeyboardInterrupt):
    """A signal (``signum``) asked the run to stop: raised at the next batch boundary (``Progress.advance``)."""

    signum = property(lambda self: self.args[0])


def check_stop() -> None:
    """Stop here if a signal asked for it; long loops reach this through ``Progress.advance``."""
    if STOP["signal"] is not None:
        raise StopRequested(STOP["signal"])


class Progress:
    """``with ctx.progress(total=n, description="encode") as bar: bar.advance(k)``."""

    def __init__(self, total: int | None = None, description: str = "", completed: int = 0) -> None:
        self.total = total
        self.description = description
        self.completed = completed
        self._rich: Any = None
        self._task: Any = None
        self._last_logged = -1
        self._start = time.perf_counter()
        self._last_time = self._start

    def __enter__(self) -> "Progress":
        if sys.stderr.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb":  # a real terminal, not CI logs
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            self._rich = RichProgress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(), transient=False,
            )
            self._rich.start()
            self._task = self._rich.add_task(self.description, total=self.total, completed=self.completed)
        else:
            log.info("%s: started%s", self.description, f" ({self.total} steps)" if self.total else "")
        return self

    def advance(self, n: int = 1) -> None:
        """Count ``n`` finished steps; the place where a requested stop takes effect."""
        self.completed += n
        if self._rich is not None:
            self._rich.update(self._task, advance=n)
        elif self.total:
            decile = int(10 * self.completed / self.total)
            now = time.perf_counter()
            if decile != self._last_logged and decile < 10 and now - self._last_time >= 5.0:
                self._last_logged, self._last_time = decile, now
                log.info("%s: %d/%d", self.description, self.completed, self.total)
        check_stop()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._rich is not None:
            self._rich.stop()
        if exc_type is None:
            log.info("%s: done in %.1f s", self.description, time.perf_counter() - self._start)


progress = Progress  # what ``ctx.progress(total=..., description=..., completed=...)`` calls
