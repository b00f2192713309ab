"""The HTML report of a finished run (``cellxai report RUN_DIR``, ``report: true``).

    from cellxai_core.report import write_report
    path = write_report("runs/demo")        # runs/demo/report.html, one self-contained file

Sections depend on the task (cluster: embedding, cluster cards with montages, Grad-CAM,
text, similarity, truth agreement; classify: fold metrics, ROC, confusion matrix, Gmean
images, uncertain samples) and end with provenance. A section whose arrays the run does
not have is replaced by a one-line note, so any combination of explainers works.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

REPORT = "report.html"

__all__ = ["REPORT", "write_report"]


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``RUN_DIR/report.html`` (or ``out``) and return its path."""
    from .. import __version__
    from .page import guarded, render_page
    from .provenance import provenance
    from .source import ReportSource

    src = ReportSource(run_dir)
    if src.task == "cluster":
        from .cluster import cluster_sections

        sections = cluster_sections(src)
        what = "clustering"
    else:
        from .classify import classify_sections

        sections = classify_sections(src)
        what = "classification"
    from .trust import trust

    sections.append(guarded("trust", "Can the explanations be trusted?", trust, src))
    sections.append(guarded("provenance", "Provenance", provenance, src))
    cfg = src.config
    parts = [f"{(cfg.get(k) or {}).get('name')}" for k in ("encoder", "fusion", "clusterer") if cfg.get(k)]
    subtitle = [
        f"{what.capitalize()} of {len(src.ids)} samples of {(cfg.get('dataset') or {}).get('name', '?')}",
        "pipeline: " + " → ".join(parts) + (f"; explainers: {', '.join(e['name'] for e in cfg.get('explainers') or [])}" if cfg.get("explainers") else ""),
    ]
    html_text = render_page(
        f"cellxai report · {src.path.name}", subtitle, sections,
        f"Written by cellxai {__version__} on {time.strftime('%Y-%m-%d %H:%M:%S')} from {src.path}",
    )
    path = Path(out) if out is not None else src.path / REPORT
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html_text, encoding="utf-8")
    os.replace(tmp, path)
    return path
