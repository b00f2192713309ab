"""The HTML report of a run (``cellxai report RUN_DIR``, ``report: true``) and its AnnData export.

    from cellxai_report import write_report
    path = write_report("runs/demo")        # runs/demo/report.html, one self-contained file

The report draws the task's results from the store paths of ``cellxai_core.schema``
(cluster: embedding, cluster cards, truth agreement; classify: fold metrics, ROC,
confusion, typical and uncertain samples) and ends with provenance. Everything an
explainer found comes from the explainer's own plugin through ``cellxai_report_sections``
(see :mod:`cellxai_report.contrib`), so any combination of explainers works and a missing
or failing section becomes a one-line note.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from cellxai_core.registry import Registry

REPORT = "report.html"
WHAT = {"cluster": "clustering", "classify": "classification"}

__all__ = ["REPORT", "write_report"]
__version__ = "0.1.0"


def write_report(run_dir: str | Path, out: str | Path | None = None, registry: "Registry | None" = None) -> Path:
    """Write ``RUN_DIR/report.html`` (or ``out``) and return its path; sections come from ``registry``
    (default: the installed plugins)."""
    from cellxai_core import __version__ as core_version

    from .page import render_page
    from .sections import render_sections
    from .source import ReportSource

    src = ReportSource(run_dir, registry)
    sections = render_sections(src)
    cfg = src.config
    parts = [f"{(cfg.get(k) or {}).get('name')}" for k in ("encoder", "fusion", "clusterer") if cfg.get(k)]
    explainers = ", ".join(e["name"] for e in cfg.get("explainers") or [])
    subtitle = [
        f"{WHAT.get(src.task, src.task).capitalize()} of {len(src.ids)} samples of {(cfg.get('dataset') or {}).get('name', '?')}",
        "pipeline: " + " → ".join(parts) + (f"; explainers: {explainers}" if explainers else ""),
    ]
    html_text = render_page(
        f"cellxai report · {src.path.name}", subtitle, sections,
        f"Written by cellxai {core_version} on {time.strftime('%Y-%m-%d %H:%M:%S')} from {src.path}",
    )
    path = Path(out) if out is not None else src.path / REPORT
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html_text, encoding="utf-8")
    os.replace(tmp, path)
    return path
