"""Owning a run directory while a run writes it: one writer (``fcntl.flock`` on ``DIR/.lock``, released by the
kernel when its holder dies), SIGINT / SIGTERM at the next batch boundary, full or read-only disks as user errors."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any, Iterator

import yaml

from .errors import UserError
from .progress import STOP, StopRequested

log = logging.getLogger("cellxai")
LOCK = ".lock"
STORE = "store.zarr"
WRITE_ERRORS = {errno.ENOSPC: "no space left on device", errno.EDQUOT: "disk quota exceeded",
                errno.EROFS: "read-only file system", errno.EACCES: "permission denied", errno.EPERM: "permission denied"}


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock for the block; a second writer gets a one-line error naming the holder."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle = open(out / LOCK, "a+")
    except OSError as exc:
        raise write_error(out, exc) from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise UserError(f"{out}: another cellxai process (pid {holder}) is writing this run directory; wait for it or use another --out") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
        with contextlib.suppress(OSError):  # removed while still held: the directory keeps only the run
            (out / LOCK).unlink()
    finally:
        handle.close()


def write_error(out: Path, exc: OSError) -> UserError:
    """The user's storage problem in one line (disk full, read-only, gone), or the error itself if it is not one."""
    if not out.is_dir():
        return UserError(f"{out}: the run directory disappeared while the run was writing it")
    cause = WRITE_ERRORS.get(exc.errno or 0)
    if cause is None:
        raise exc
    return UserError(f"{out}: cannot write the run: {cause} ({exc.filename or out})")


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGINT / SIGTERM: stop at the next batch boundary; a second one stops at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def ask(signum: int, frame: Any) -> None:
        if STOP.get("signal") is not None:
            raise StopRequested(signum)
        STOP["signal"] = signum
        log.warning("%s: stopping at the next batch boundary (send it again to stop at once)", signal.Signals(signum).name)

    previous = {s: signal.signal(s, ask) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        STOP["signal"] = None


def flat(value: Any, path: str = "") -> dict[str, Any]:
    """A nested config as {"encoder.params.width": 8, "explainers[0].name": ...}."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flat(item, f"{path}.{key}" if path else str(key)).items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in flat(item, f"{path}[{i}]").items()}
    return {path: value}


def prepare(out: Path, resolved: dict[str, Any], *, resume: bool, overwrite: bool) -> bool:
    """Check or clear the (locked) output directory; returns True when resuming an existing run."""
    if resume and overwrite:
        raise UserError("--resume and --overwrite exclude each other")
    contents = [p for p in out.iterdir() if p.name != LOCK] if out.is_dir() else []
    if not contents:
        return False
    if overwrite:
        for path in contents:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return False
    if not resume:
        raise UserError(f"{out}: output directory exists and is not empty; use --resume to continue it or --overwrite to replace it")
    config_file = out / "config.yaml"
    if not config_file.exists():
        raise UserError(f"{out}: not a cellxai run directory (no config.yaml); cannot --resume")
    previous = yaml.safe_load(config_file.read_text()) or {}
    was, now = flat(previous.get("config") or {}), flat(resolved)
    diff = next((k for k in sorted(set(was) | set(now)) if was.get(k) != now.get(k)), None)
    if diff is not None:
        raise UserError(f"{out}: --resume with a different config ({diff}: was {was.get(diff)!r}, now {now.get(diff)!r}); use --overwrite or another --out")
    return (out / STORE).exists()  # killed before its store was made: nothing was computed, it starts afresh
