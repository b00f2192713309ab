"""What other plugins add to the report, through the options of their section registrations.

Plugins never import the report. An explainer's plugin registers (``cellxai_report_sections``)::

    register("cluster-similarity", summary="How different are the clusters?",
             target="pkg.report:render", tasks=("cluster",), order=50,
             cards="pkg.report:card_facts", columns="pkg.report:columns")

and the report reads these options (the core reads ``columns``, ``tasks`` and ``writer``):

- ``target``: ``render(run, section)`` fills its own section of the page (an empty section
  is left out);
- ``cards="pkg.mod:func"``: ``func(run) -> {cluster id: {"text": str, "facts": [(name, value)]}}``;
  the text opens the cluster's card, the facts join the card's table;
- ``maps="pkg.mod:func"`` with ``maps_label``: ``func(run, indices) -> (n, S, H, W)`` maps in
  [0, 1] of those samples, or None when the run has none; the report draws them over the
  images of every samples montage (cluster cards, typical and uncertain samples);
- ``contours="pkg.mod:func"``: ``func(run, indices) -> (n, S, H, W)`` object labels of those
  samples, or None; their outlines are drawn in white over every overlay (display only);
- ``columns="pkg.mod:func"``: ``func(run) -> {column: (N,) values}``, in ``results.csv`` (core)
  and as ``obs`` columns of the AnnData export.

``run`` is the opened run (:class:`cellxai_report.source.ReportSource`, a
:class:`cellxai_core.api.Run`). A contribution that fails is logged and left out: one
plugin's bug must not cost the report.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from cellxai_core.registry import Registration

    from .source import ReportSource

log = logging.getLogger("cellxai")
DEFAULT_ORDER = 100


def applies(reg: "Registration", task: str) -> bool:
    """Whether a section registration applies to ``task`` (no ``tasks`` option: every task)."""
    tasks = reg.options.get("tasks")
    return tasks is None or task in tuple(tasks)


def registrations(src: "ReportSource", option: str | None = None) -> list["Registration"]:
    """The section registrations of the run's task (those with ``option`` only), in page order."""
    regs = [r for r in src.registry.components("section") if applies(r, src.task)]
    if option is not None:
        regs = [r for r in regs if r.options.get(option)]
    return sorted(regs, key=lambda r: (r.options.get("order", DEFAULT_ORDER), r.name))


def _call(reg: "Registration", option: str, *args: Any) -> Any:
    try:
        return reg.load(reg.options[option])(*args)
    except Exception as exc:  # noqa: BLE001 - a plugin's contribution, logged and skipped
        log.warning("report: %s of section '%s' (%s) skipped: %s: %s", option, reg.name, reg.distribution,
                    type(exc).__name__, exc)
        return None


def card_parts(src: "ReportSource") -> dict[int, dict[str, Any]]:
    """Cluster id -> {"text": [sentences], "facts": [(name, value)]}, merged over every ``cards`` provider."""
    merged: dict[int, dict[str, Any]] = {}
    for reg in registrations(src, "cards"):
        for k, part in (_call(reg, "cards", src) or {}).items():
            into = merged.setdefault(int(k), {"text": [], "facts": []})
            if part.get("text"):
                into["text"].append(str(part["text"]))
            into["facts"].extend((str(n), v) for n, v in part.get("facts") or [])
    return merged


def sample_maps(src: "ReportSource", indices: Sequence[int]) -> list[tuple[str, np.ndarray]]:
    """(row label, (n, S, H, W) maps) of every ``maps`` provider that has maps for this run."""
    out = []
    for reg in registrations(src, "maps"):
        maps = _call(reg, "maps", src, np.asarray(indices, dtype=np.int64))
        if maps is not None and len(maps) == len(indices):
            out.append((str(reg.options.get("maps_label") or reg.name), np.asarray(maps, dtype=np.float32)))
    return out


def sample_contours(src: "ReportSource", indices: Sequence[int]) -> np.ndarray | None:
    """(n, S, H, W) object labels from the first ``contours`` provider that has them, else None."""
    for reg in registrations(src, "contours"):
        labels = _call(reg, "contours", src, np.asarray(indices, dtype=np.int64))
        if labels is not None and len(labels) == len(indices):
            return np.asarray(labels)
    return None


def extra_columns(src: "ReportSource") -> dict[str, np.ndarray]:
    """Every ``columns`` provider's columns (what ``results.csv`` adds after the task's own)."""
    out: dict[str, np.ndarray] = {}
    for reg in registrations(src, "columns"):
        for name, values in (_call(reg, "columns", src) or {}).items():
            if len(values) == len(src.ids):
                out[str(name)] = np.asarray(values)
    return out
