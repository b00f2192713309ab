"""The pipeline: load -> pretrain -> encode -> fuse -> task -> explain (classify trains in place of
pretrain). ``--resume`` skips done stages (long ones resume per chunk); each stage re-seeds from the
run seed and its name, so a resumed run equals an uninterrupted one. ``cellxai explain`` reuses it."""

from __future__ import annotations

import contextlib
import logging
import time
from pathlib import Path
from typing import Any, Mapping

import yaml

from . import rundir, schema, stages
from .api import open_run
from .build import Builder, stage_seed, validated_params
from .config import load_config, resolved_config
from .context import RunContext
from .errors import ConfigError, NotApplicable, UserError
from .executors import make_executor
from .progress import check_stop
from .registry import Registry, get_registry
from .store import RunStore

log = logging.getLogger("cellxai")
STORE = rundir.STORE


def ordered_explainers(builder: Builder) -> list[tuple[str, Any]]:
    """(name, explainer) of the pipeline file, in an order that honours each explainer's ``after``."""
    from graphlib import CycleError, TopologicalSorter

    cfg = builder.cfg
    built: dict[str, Any] = {}
    for i, spec in enumerate(cfg.explainers):
        explainer = builder.component(f"explainers[{i}]")
        tasks = tuple(getattr(explainer, "tasks", (cfg.task,)))
        if cfg.task not in tasks:
            raise ConfigError(f"explainers[{i}]: explainer '{spec.name}' does not apply to task '{cfg.task}' (only {', '.join(tasks)})")
        missing = [b for b in getattr(explainer, "after", ()) if b not in [s.name for s in cfg.explainers]]
        if missing:
            raise ConfigError(f"explainers[{i}]: explainer '{spec.name}' needs '{missing[0]}' to run before it; add {{name: {missing[0]}}} to explainers")
        built[spec.name] = explainer
    graph = TopologicalSorter({name: getattr(e, "after", ()) for name, e in built.items()})
    try:
        return [(name, built[name]) for name in graph.static_order()]
    except CycleError as exc:
        raise ConfigError("explainers: circular 'after' dependencies: " + ", ".join(exc.args[1])) from None


def plan(ctx: RunContext, explainers: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """(stage name, callable) in run order; the task's stage is named after the task."""
    steps: list[tuple[str, Any]] = [("load", stages.load)]
    if ctx.task_impl.trains_model:
        steps += [(ctx.task, stages.task), ("encode", stages.encode), ("fuse", stages.fuse)]
    else:
        steps += [("pretrain", stages.pretrain), ("encode", stages.encode), ("fuse", stages.fuse), (ctx.task, stages.task)]
    for name, explainer in explainers:
        steps.append((f"explain:{name}", lambda c, n=name, e=explainer: stages.explain(c, n, e)))
    return steps


def run_stage(ctx: RunContext, stage: str, work: Any, **info: Any) -> None:
    """One stage: seeded from the run seed and the stage name, its status and seconds recorded."""
    from .model import seed_everything

    seed_everything(stage_seed(ctx.seed, stage))
    ctx.store.set_stage(stage, "running")
    start = time.perf_counter()
    work(ctx)
    ctx.store.set_stage(stage, "done", seconds=round(time.perf_counter() - start, 3), **info)


def _set_threads(threads: int | None) -> int:
    """Apply the config's ``threads`` to torch (for this process) and return the count in use."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def run(
    source: str | Path | Mapping[str, Any],
    out: str | Path,
    overrides: Mapping[str, Any] | list[str] | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = None,
    registry: Registry | None = None,
) -> Any:
    """Run a pipeline file (or mapping) into ``out``; returns the opened run."""
    registry = registry or get_registry()
    overrides = dict(overrides) if isinstance(overrides, Mapping) else list(overrides or [])
    if device is not None:
        overrides = {**overrides, "device": device} if isinstance(overrides, dict) else [*overrides, f"device={device}"]
    cfg, params = load_config(source, overrides, registry)
    out = Path(out)
    ctx = RunContext.open(cfg, params, out, registry)
    resolved = resolved_config(cfg, params)
    ctx.executor = make_executor(cfg, params, registry)
    with rundir.locked(out), rundir.stop_on_signals(), contextlib.closing(ctx.executor):
        try:
            failed = _execute(ctx, resolved, resume=resume, overwrite=overwrite)
        except OSError as exc:
            raise rundir.write_error(out, exc) from None
    if cfg.report:
        _write_report(out, registry)
    if failed is not None:  # the run is complete without that explainer: exit 2 (data) or 1 (a bug)
        raise (UserError(f"{out}: {failed}") if isinstance(failed.__cause__, UserError) else failed) from failed.__cause__
    return open_run(out)


def _execute(ctx: RunContext, resolved: dict[str, Any], *, resume: bool, overwrite: bool) -> Exception | None:
    """Every stage not done yet, the run's status kept true: running, then complete, failed or interrupted.
    An explainer that fails is recorded as a failed stage and the run goes on; the first such error is returned."""
    cfg, out, registry = ctx.config, ctx.run_dir, ctx.builder.registry  # type: ignore[union-attr]
    execution = {k: resolved[k] for k in ("executor", "loader_workers")}  # how, not what: --resume may change it
    resolved = {k: v for k, v in resolved.items() if k not in execution}
    resuming = rundir.prepare(out, resolved, resume=resume, overwrite=overwrite)
    explainers = ordered_explainers(ctx.builder)  # type: ignore[arg-type]
    used = [registry.get(kind, spec.name) for _, kind, spec in cfg.components()] + [registry.get("task", cfg.task)]
    versions = {r.distribution: r.version for r in used}
    (out / "config.yaml").write_text(
        yaml.safe_dump({"config": resolved, "plugins": versions, "seed": cfg.seed, "device": cfg.device, "execution": execution}, sort_keys=False)
    )
    ctx.store = store = RunStore(out / STORE)
    if not resuming or "config" not in store.attrs():  # also a store killed before its first attrs
        store.set_attrs(config=resolved, plugins=versions, stages={})
    store.set_attrs(status="running", device_used=ctx.device, threads_used=_set_threads(cfg.threads),
                    precision_used=ctx.precision, executor=execution["executor"])
    (out / stages.RESULTS).unlink(missing_ok=True)
    failures: list[Exception] = []
    try:
        for stage, work in plan(ctx, explainers):
            if store.stage_status(stage) == "done":
                log.info("%s: done earlier, skipped", stage)
                continue
            check_stop()
            try:
                run_stage(ctx, stage, work)
            except NotApplicable as exc:  # nothing to explain (e.g. one cluster): a note in the report, not a failure
                store.set_stage(stage, "skipped", note=str(exc))
                log.warning("%s skipped: %s", stage, exc)
            except Exception as exc:
                if not stage.startswith("explain:") or isinstance(exc, OSError):
                    raise
                hint = f"explainer '{stage[8:]}' failed ({type(exc).__name__}: {exc}); rerun it with `cellxai explain {out} {stage[8:]}`"
                store.set_stage(stage, "failed", error=hint)
                log.error("%s", hint)
                failures.append(RuntimeError(hint))
                failures[-1].__cause__ = exc
        stages.write_results(ctx)
        store.remove("_partial")
        store.set_attrs(status="complete", finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
    except BaseException as exc:
        with contextlib.suppress(OSError):  # a full disk may refuse the status too; a vanished one is not recreated
            if out.is_dir():
                store.set_attrs(status="interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
        raise
    return failures[0] if failures else None


def _write_report(out: Path, registry: Registry) -> None:
    """``report: true``: the report plugin's writer, found as the command ``report`` would find it."""
    sections = [r for r in registry.components("section") if r.options.get("writer")]
    if not sections:
        log.warning("report: true, but no report plugin is installed (cellxai-report)")
        return
    sections[0].load(sections[0].options["writer"])(out)


def explain_run(
    run_dir: str | Path, name: str, params: Mapping[str, Any] | None = None, *, registry: Registry | None = None
) -> dict[str, Any]:
    """Run one more explainer on a finished run (``cellxai explain`` / ``evaluate``), its context rebuilt from
    the run's resolved config as the pipeline does; returns the attrs of ``explanations/<name>``."""
    registry = registry or get_registry()
    opened = open_run(run_dir)
    cfg, params_by_path = load_config(opened.config, registry=registry)
    ctx = RunContext.open(cfg, params_by_path, Path(run_dir), registry)
    ctx.store = RunStore(Path(run_dir) / STORE)
    _set_threads(cfg.threads)
    own = dict(params or {})
    checked = validated_params("explainer", name, own, registry).model_dump(mode="json")
    explainer = ctx.builder.explainer(name, own)  # type: ignore[union-attr]
    if cfg.task not in tuple(getattr(explainer, "tasks", (cfg.task,))):
        raise ConfigError(f"explainer '{name}' does not apply to task '{cfg.task}'")
    for before in getattr(explainer, "after", ()):
        if not ctx.store.has(schema.explanation(before)) and ctx.store.stage_status(f"explain:{before}") != "done":
            raise UserError(f"{run_dir}: explainer '{name}' needs '{before}' to have run; run `cellxai explain {run_dir} {before}` first")
    with rundir.locked(Path(run_dir)), rundir.stop_on_signals():
        run_stage(ctx, f"explain:{name}", lambda c: stages.explain(c, name, explainer), params=checked)
        ctx.store.remove("_partial")
    return ctx.store.attrs(schema.explanation(name)) if ctx.store.has(schema.explanation(name)) else {}
