"""Which sections a report has and in which order: the report's own and every plugin's.

Each is rendered inside :func:`cellxai_report.page.guarded`: a section that fails, or whose
plugin cannot be imported, becomes a one-line note and the rest of the report is written.
A section its renderer left empty (nothing to say for this run) is left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cellxai_core.registry import NoParams, Registration

from .contrib import DEFAULT_ORDER, applies
from .page import Section, guarded
from .plugin import OWN, own_options

if TYPE_CHECKING:  # pragma: no cover
    from .source import ReportSource


def own_registrations() -> list[Registration]:
    """The report's own sections, also when the registry in use does not hold this plugin (tests, scripts)."""
    return [
        Registration(name=name, kind="section", summary=title, params=NoParams, target=target, plugin="report",
                     distribution="cellxai-report", version="", options=own_options(name, tasks, order))
        for name, title, target, tasks, order in OWN
    ]


def section_registrations(src: "ReportSource") -> list[Registration]:
    """Sections for the run's task in page order; a registered name replaces the report's own of that name."""
    by_name = {r.name: r for r in own_registrations()}
    by_name.update({r.name: r for r in src.registry.components("section")})
    regs = [r for r in by_name.values() if applies(r, src.task)]
    return sorted(regs, key=lambda r: (r.options.get("order", DEFAULT_ORDER), r.name))


def _render(reg: Registration, src: "ReportSource") -> Section:
    section = Section(reg.name, reg.summary or reg.name)
    reg.load()(src, section)
    return section


def render_sections(src: "ReportSource") -> list[Section]:
    """Every section of the report, each guarded, empty ones left out."""
    out = []
    for reg in section_registrations(src):
        section = guarded(reg.name, reg.summary or reg.name, _render, reg, src)
        if section.parts:
            out.append(section)
    return out
