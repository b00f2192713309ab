"""The pipeline: load -> pretrain -> encode -> fuse -> cluster | classify -> explain.

Each stage records its status in the store; a stage that is done is skipped on
``--resume``, and encode and the gradcam explainer also resume per chunk of samples.
Every stage re-seeds from the run seed, so an interrupted and resumed run equals an
uninterrupted one.
"""

from __future__ import annotations

import logging
import shutil
import time
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import yaml

from . import stages
from .build import construct
from .config import PipelineConfig, load_config, resolved_config
from .context import RunContext
from .errors import ConfigError, UserError
from .progress import progress
from .registry import Registry, get_registry
from .store import RunStore

log = logging.getLogger("cellxai")
STORE = "store.zarr"


def stage_seed(seed: int, stage: str) -> int:
    """A per-stage seed, so a stage's randomness does not depend on earlier stages having run."""
    return (seed * 1_000_003 + zlib.crc32(stage.encode())) % (2**31)


def _plugin_versions(cfg: PipelineConfig, registry: Registry) -> dict[str, str]:
    out = {}
    for _, kind, spec in cfg.components():
        reg = registry.get(kind, spec.name)
        out[reg.distribution] = reg.version
    return out


def _first_difference(a: Any, b: Any, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            diff = _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
            if diff:
                return diff
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            diff = _first_difference(x, y, f"{path}[{i}]")
            if diff:
                return diff
        return None
    return None if a == b else f"{path or '(config)'}: was {a!r}, now {b!r}"


def prepare_run_dir(out: Path, resolved: dict[str, Any], *, resume: bool, overwrite: bool) -> bool:
    """Check or clear the output directory; returns True when resuming an existing run."""
    if resume and overwrite:
        raise UserError("--resume and --overwrite exclude each other")
    exists = out.exists() and any(out.iterdir())
    if not exists:
        return False
    if overwrite:
        shutil.rmtree(out)
        return False
    if not resume:
        raise UserError(f"{out}: output directory exists and is not empty; use --resume to continue it or --overwrite to replace it")
    config_file = out / "config.yaml"
    if not config_file.exists() or not (out / STORE).exists():
        raise UserError(f"{out}: not a cellxai run directory (no config.yaml / {STORE}); cannot --resume")
    previous = yaml.safe_load(config_file.read_text()) or {}
    diff = _first_difference(previous.get("config"), resolved)
    if diff:
        raise UserError(f"{out}: --resume with a different config ({diff}); use --overwrite or another --out")
    return True


class Pipeline:
    """One run of a pipeline file into a run directory."""

    def __init__(self, cfg: PipelineConfig, params: dict, out: Path, registry: Registry, device: str) -> None:
        self.cfg, self.params, self.out, self.registry = cfg, params, out, registry
        self.device = device
        self.timings: dict[str, float] = {}

    # -- building ----------------------------------------------------------------------
    def _extra_params(self, path: str, spec_params: Mapping[str, Any]) -> Any:
        """The validated params with ``device`` injected from the run where not set explicitly."""
        params = self.params[path]
        if "device" in type(params).model_fields and "device" not in spec_params:
            params = params.model_copy(update={"device": self.device})
        return params

    def build(self, path: str, kind: str, **extra: Any) -> Any:
        spec = self.cfg.explainers[int(path[11:-1])] if path.startswith("explainers[") else getattr(self.cfg, path)
        return construct(kind, spec.name, self._extra_params(path, spec.params), self.registry, **extra)

    def build_model(self, dataset: Any, with_head: int | None = None) -> Any:
        """Encoder + fusion (+ linear head) as one SampleModel, freshly initialised from the seed."""
        from .model import SampleModel, seed_everything

        seed_everything(stage_seed(self.cfg.seed, "model"))
        in_channels = len(dataset.channels)
        encoder = self.build("encoder", "encoder", in_channels=in_channels)
        side_dim = len(getattr(encoder, "handcrafted_names", []) or []) if hasattr(encoder, "handcrafted") else 0
        fusion = self.build("fusion", "fusion", token_dim=encoder.out_dim, side_dim=side_dim, set_size=dataset.set_size)
        head = None
        if with_head:
            import torch

            head = torch.nn.Linear(fusion.out_dim, with_head)
        return SampleModel(encoder, fusion, head)

    def explainers(self) -> list[tuple[str, str, Any]]:
        """(name, path, explainer) in an order that honours each explainer's ``after``."""
        built = []
        for i, spec in enumerate(self.cfg.explainers):
            path = f"explainers[{i}]"
            explainer = self.build(path, "explainer")
            tasks = tuple(getattr(explainer, "tasks", ("cluster", "classify")))
            if self.cfg.task not in tasks:
                raise ConfigError(f"{path}: explainer '{spec.name}' does not apply to task '{self.cfg.task}' (only {', '.join(tasks)})")
            built.append((spec.name, path, explainer))
        names = [n for n, _, _ in built]
        for name, path, explainer in built:
            for before in getattr(explainer, "after", ()):
                if before not in names:
                    raise ConfigError(f"{path}: explainer '{name}' needs '{before}' to run before it; add {{name: {before}}} to explainers")
        ordered: list[tuple[str, str, Any]] = []
        pending = list(built)
        while pending:
            for item in pending:
                if all(b in [o[0] for o in ordered] for b in getattr(item[2], "after", ())):
                    ordered.append(item)
                    pending.remove(item)
                    break
            else:
                raise ConfigError("explainers: circular 'after' dependencies: " + ", ".join(n for n, _, _ in pending))
        return ordered

    # -- running --------------------------------------------------------------------------
    def run(self, dataset: Any, store: RunStore) -> None:
        from .model import seed_everything

        model_holder: dict[str, Any] = {}
        ctx = RunContext(
            config=self.cfg, dataset=dataset, store=store, run_dir=self.out,
            device=self.device, seed=self.cfg.seed, progress=progress,
            model_loader=lambda: stages.load_trained_model(self, dataset),
        )
        ordered_explainers = self.explainers()
        plan = ["load"]
        if self.cfg.task == "cluster":
            plan += ["pretrain", "encode", "fuse", "cluster"]
        else:
            plan += ["classify", "encode", "fuse"]
        plan += [f"explain:{name}" for name, _, _ in ordered_explainers]
        by_name = {f"explain:{n}": e for n, _, e in ordered_explainers}
        for stage in plan:
            if store.stage_status(stage) == "done":
                log.info("%s: done earlier, skipped", stage)
                continue
            seed_everything(stage_seed(self.cfg.seed, stage))
            store.set_stage(stage, "running")
            start = time.perf_counter()
            if stage in by_name:
                stages.explain(self, ctx, stage.split(":", 1)[1], by_name[stage], model_holder)
            else:
                getattr(stages, stage)(self, ctx, model_holder)
            seconds = round(time.perf_counter() - start, 3)
            store.set_stage(stage, "done", seconds=seconds)
            ctx.extras.pop("model", None) if stage in ("classify", "fuse") else None


def _resolved_device(device: str) -> str:
    """``auto`` -> ``cuda`` or ``cpu``; a CUDA device without CUDA is the user's error."""
    from .model import resolve_device

    return str(resolve_device(device))


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
) -> "Any":
    """Run a pipeline file (or mapping) into ``out``; returns the opened run."""
    from .api import open_run

    registry = registry or get_registry()
    overrides = dict(overrides) if isinstance(overrides, Mapping) else list(overrides or [])
    if device is not None:
        if isinstance(overrides, dict):
            overrides["device"] = device
        else:
            overrides.append(f"device={device}")
    cfg, params = load_config(source, overrides, registry)
    resolved = resolved_config(cfg, params)
    out = Path(out)
    resuming = prepare_run_dir(out, resolved, resume=resume, overwrite=overwrite)
    pipe = Pipeline(cfg, params, out, registry, _resolved_device(cfg.device))
    dataset = pipe.build("dataset", "dataset")
    if len(dataset) == 0:
        raise UserError(f"dataset '{cfg.dataset.name}' has no samples")
    out.mkdir(parents=True, exist_ok=True)
    versions = _plugin_versions(cfg, registry)
    (out / "config.yaml").write_text(
        yaml.safe_dump({"config": resolved, "plugins": versions, "seed": cfg.seed, "device": cfg.device}, sort_keys=False)
    )
    store = RunStore(out / STORE)
    if not resuming:
        store.set_attrs(config=resolved, plugins=versions, stages={})
    store.set_attrs(status="running", device_used=pipe.device, threads_used=_set_threads(cfg.threads))
    (out / "results.csv").unlink(missing_ok=True)
    try:
        pipe.run(dataset, store)
        stages.write_results(pipe, store, dataset)
        store.remove("_partial")
        store.set_attrs(status="complete", finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
    except KeyboardInterrupt:
        store.set_attrs(status="interrupted")
        raise
    except BaseException:
        store.set_attrs(status="failed")
        raise
    if cfg.report:
        try:
            from .report import write_report
        except ImportError:
            log.warning("report: not available in this version")
        else:
            write_report(out)
    return open_run(out)


def explain_run(run_dir: str | Path, name: str, params: Mapping[str, Any] | None = None, *, registry: Registry | None = None) -> dict[str, Any]:
    """Run one more explainer on a finished run (``cellxai evaluate`` / ``cellxai explain``).

    The run's own config rebuilds the dataset and model; the explainer's results go to
    ``explanations/<name>`` like those of the pipeline's explainers. Returns its attrs.
    """
    from .api import open_run
    from .build import validated_params
    from .model import seed_everything

    registry = registry or get_registry()
    opened = open_run(run_dir)
    cfg, params_by_path = load_config(opened.config, registry=registry)
    pipe = Pipeline(cfg, params_by_path, Path(run_dir), registry, _resolved_device(cfg.device))
    _set_threads(cfg.threads)
    dataset = pipe.build("dataset", "dataset")
    store = RunStore(Path(run_dir) / STORE)
    ctx = RunContext(
        config=cfg, dataset=dataset, store=store, run_dir=Path(run_dir), device=pipe.device,
        seed=cfg.seed, progress=progress, model_loader=lambda: stages.load_trained_model(pipe, dataset),
    )
    own = dict(params or {})
    checked = validated_params("explainer", name, own, registry)
    if "device" in type(checked).model_fields and "device" not in own:
        checked = checked.model_copy(update={"device": cfg.device})
    explainer = construct("explainer", name, checked, registry)
    if cfg.task not in tuple(getattr(explainer, "tasks", ("cluster", "classify"))):
        raise ConfigError(f"explainer '{name}' does not apply to task '{cfg.task}'")
    for before in getattr(explainer, "after", ()):
        if not store.has(f"explanations/{before}") and store.stage_status(f"explain:{before}") != "done":
            raise UserError(f"{run_dir}: explainer '{name}' needs '{before}' to have run; run `cellxai explain {run_dir} {before}` first")
    stage = f"explain:{name}"
    seed_everything(stage_seed(cfg.seed, stage))
    store.set_stage(stage, "running")
    start = time.perf_counter()
    stages.explain(pipe, ctx, name, explainer, {})
    store.set_stage(stage, "done", seconds=round(time.perf_counter() - start, 3), params=checked.model_dump(mode="json"))
    store.remove("_partial")
    group = Path(run_dir) / STORE / "explanations" / name / "zarr.json"
    return store.attrs(f"explanations/{name}") if group.exists() else {}
