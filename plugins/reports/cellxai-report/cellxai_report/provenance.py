"""Provenance: what produced these results (config, plugin versions, device, time per stage)."""

from __future__ import annotations

import platform
from typing import Any

import yaml

from cellxai_core import schema

from .page import Section
from .source import ReportSource


def provenance(src: ReportSource, sec: Section) -> None:
    """The facts a reader needs to trust or reproduce the run; the last section of every report."""
    root = src.attrs()
    run_file = yaml.safe_load((src.path / "config.yaml").read_text()) or {}
    cfg = src.config
    facts = [
        ("run directory", str(src.path.resolve())),
        ("status", root.get("status", "?")),
        ("finished", root.get("finished", "?")),
        ("task", src.task),
        ("seed", cfg.get("seed")),
        ("device (configured)", run_file.get("device", cfg.get("device"))),
        ("device (used)", root.get("device_used") or _device_note(cfg.get("device"))),
        ("samples", len(src.ids)),
        ("report made with", f"cellxai {_version()}, cellxai-report {_version('cellxai-report')} on Python {platform.python_version()}"),
    ]
    sec.kv(facts)

    plugins = root.get("plugins") or run_file.get("plugins") or {}
    if plugins:
        sec.h3("Plugins")
        sec.table(["distribution", "version"], sorted(plugins.items()), left=2)

    stages = root.get("stages") or {}
    for name, info in stages.items():
        if info.get("status") == "failed":
            sec.note(f"Stage {name} failed: {info.get('error') or 'no reason recorded'}. Everything else in this report is complete.")
        elif info.get("status") == "skipped":
            sec.note(f"Stage {name} was skipped: {info.get('note') or 'nothing to do'}.")
    if stages:
        sec.h3("Time per stage")
        total = sum(float(v.get("seconds") or 0) for v in stages.values())
        rows: list[tuple[Any, ...]] = [(name, v.get("status"), v.get("seconds")) for name, v in stages.items()]
        rows.append(("total", "", round(total, 3)))
        sec.table(["stage", "status", "seconds"], rows, left=2)

    metrics = _training_metrics(src)
    if metrics:
        sec.h3("Training metrics")
        sec.table(["stage", "metric", "value"], metrics, left=2)

    sec.h3("Resolved configuration (config.yaml)")
    sec.pre(yaml.safe_dump(cfg, sort_keys=False))


def _training_metrics(src: ReportSource) -> list[tuple[str, str, Any]]:
    """Scalar numbers the core's stages stored: encoder pre-training, fusion training (explainers show their own)."""
    out = []
    sources = [
        ("pretrain", src.attrs().get("pretrain_metrics") or {}),
        ("fuse", src.attrs(schema.FUSED).get("metrics") or {} if src.has(schema.FUSED) else {}),
    ]
    for stage, values in sources:
        for key, value in _flatten(values):
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out.append((stage, key, value))
    return out[:60]


def _flatten(values: dict[str, Any], prefix: str = ""):
    for key, value in values.items():
        if isinstance(value, dict):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _device_note(configured: Any) -> str:
    if configured in (None, "auto"):
        return "auto (CUDA when present at run time; not recorded)"
    return str(configured)


def _version(distribution: str = "cellxai") -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"
