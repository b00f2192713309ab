"""Where the per-chunk work of a stage runs (``executor:``): ``local`` here, plugins add others (``dask``).
``function(ctx, chunk, batches)`` gets (indices, images) batches of rows ``chunk * rows`` on and writes those rows
of arrays the client made in the stage's partial group; the client marks chunks done. An executor plugin
(``cellxai_executors``) has ``map_chunks`` and ``close``; its workers run :class:`LocalExecutor` (docs/scale.md)."""

from __future__ import annotations

import importlib
from itertools import groupby
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .data import chunks, prefetch_batches

if TYPE_CHECKING:  # pragma: no cover
    from pydantic import BaseModel

    from .config import PipelineConfig
    from .context import RunContext
    from .registry import Registry


class LocalExecutor:
    """Chunks in this process, in order, with one read-ahead stream across chunk borders."""

    def map_chunks(self, ctx: "RunContext", stage: str, todo: Sequence[int], func: str, rows: int) -> Iterator[int]:
        """Run ``func`` on each chunk of ``todo``; yields each chunk once written."""
        from .build import stage_seed
        from .model import pinned, seed_everything

        module, _, name = func.partition(":")
        fn, n, size = getattr(importlib.import_module(module), name), len(ctx.dataset), int(ctx.config.batch_size)
        plan = [(c, list(range(c * rows + a, c * rows + b))) for c in todo for a, b in chunks(min(rows, n - c * rows), size)]
        convert = pinned if str(ctx.device).startswith("cuda") else None
        stream = prefetch_batches(ctx.dataset, (idx for _, idx in plan), ctx.loader_workers, convert)
        for c, group in groupby(zip((c for c, _ in plan), stream), key=lambda pair: pair[0]):
            seed_everything(stage_seed(ctx.seed, f"{stage}/{c}"))
            fn(ctx, c, (batch for _, batch in group))
            yield c

    def close(self) -> None:
        pass


def make_executor(cfg: "PipelineConfig", params: dict[str, "BaseModel"], registry: "Registry") -> Any:
    """The executor the pipeline file names, built with its validated params."""
    from .build import construct

    if cfg.executor.name == "local":
        return LocalExecutor()
    return construct("executor", cfg.executor.name, params["executor"], registry)
