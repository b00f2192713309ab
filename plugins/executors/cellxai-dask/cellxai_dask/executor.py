"""The ``dask`` executor: one task per chunk on Dask's distributed scheduler (no home-made scheduler).

With ``address`` null the run starts a ``LocalCluster`` of worker processes and closes it at the end
(or on an error / SIGINT); with an address it connects to a running scheduler (``dask scheduler`` +
``dask worker``, or dask-jobqueue on SLURM / PBS), whose workers must see the run directory. A worker
rebuilds the run's context once per process from the resolved config (dataset, ``model.safetensors``)
and runs the chunk through the core's local executor, so the arrays equal a local run's. A worker
killed mid-chunk costs that chunk only: the scheduler reschedules it; a chunk that raises is retried.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

from cellxai_core.config import load_config, resolved_config
from cellxai_core.context import WEIGHTS, RunContext
from cellxai_core.errors import UserError
from cellxai_core.executors import LocalExecutor
from cellxai_core.registry import get_registry, registry_with
from cellxai_core.rundir import STORE
from cellxai_core.store import RunStore

log = logging.getLogger("cellxai")
_WORKER: dict[str, Any] = {}  # a worker process's context and the key it was built for


class DaskExecutor:
    """Started on first use (a resumed run whose chunks are all done starts no cluster), closed with the run."""

    def __init__(self, address: str | None = None, workers: int = 2, threads_per_worker: int = 1,
                 retries: int = 2, timeout: float = 10.0) -> None:
        self.address, self.workers, self.threads_per_worker = address, workers, threads_per_worker
        self.retries, self.timeout = retries, timeout
        self.client: Any = None
        self.cluster: Any = None

    def start(self) -> Any:
        """The client: of a new LocalCluster, or connected to ``address`` (a one-line error when none answers)."""
        from distributed import Client, LocalCluster

        if self.client is None and self.address is None:
            self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=self.threads_per_worker,
                                        processes=True, dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        elif self.client is None:
            try:
                self.client = Client(self.address, timeout=self.timeout)
            except OSError as exc:
                raise UserError(f"executor.address: no dask scheduler answers at {self.address} ({str(exc).splitlines()[0]})") from None
        log.info("executor dask: %d workers at %s", len(self.client.scheduler_info()["workers"]), self.client.scheduler.address)
        return self.client

    def map_chunks(self, ctx: RunContext, stage: str, todo: Sequence[int], func: str, rows: int) -> Iterator[int]:
        """Submit every chunk of ``todo``; yields each chunk as its task finishes (a chunk's error is raised here)."""
        if not todo:
            return
        from distributed import as_completed

        builder = ctx.builder
        assert builder is not None, "a dask run needs the run's builder (its config and registry)"
        resolved = resolved_config(ctx.config, builder.params)
        modules = [p.name for p in builder.registry.plugins if p.version == "0+local" and p.name in sys.modules]
        threads = ctx.config.threads or self.threads_per_worker
        client = self.start()
        args = (str(Path(ctx.run_dir).resolve()), resolved, modules, threads, stage, func, rows)
        futures = {client.submit(run_chunk, *args, c, retries=self.retries, pure=False): c for c in todo}
        try:
            for future in as_completed(futures):
                future.result()
                # forget a finished chunk: its (None) result is not recomputed when the worker holding it dies
                chunk = futures.pop(future)
                future.release()
                yield chunk
        finally:
            client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        for part in (self.client, self.cluster):
            if part is not None:
                part.close()
        self.client = self.cluster = None


def run_chunk(run_dir: str, resolved: dict[str, Any], modules: list[str], threads: int | None,
              stage: str, func: str, rows: int, chunk: int) -> None:
    """A Dask task: one chunk through the local executor, on the run's context as this worker process
    rebuilt it (kept while the config and the weights file stay the same). In-process plugins (tests)
    come by module name."""
    weights = Path(run_dir) / WEIGHTS
    key = json.dumps([run_dir, resolved, modules, weights.stat().st_mtime_ns if weights.exists() else 0], sort_keys=True)
    if _WORKER.get("key") != key:
        import torch

        registry = registry_with([importlib.import_module(m) for m in modules], installed=True) if modules else get_registry()
        cfg, params = load_config({**resolved, "executor": {"name": "local"}}, registry=registry)
        ctx = RunContext.open(cfg, params, Path(run_dir), registry)
        ctx.store = RunStore(Path(run_dir) / STORE)
        if threads:
            torch.set_num_threads(threads)
        _WORKER.update(key=key, ctx=ctx)
    for _ in LocalExecutor().map_chunks(_WORKER["ctx"], stage, [chunk], func, rows):
        pass
