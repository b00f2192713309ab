"""Registers the report's own sections, its page writer and the ``report`` / ``export`` commands.

Cheap to import (no matplotlib, no anndata): ``cellxai --help`` loads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cellxai_core.hookspecs import Register, hookimpl

if TYPE_CHECKING:  # pragma: no cover
    import typer

WRITER = "cellxai_report:write_report"
MEASURES = "cellxai_report.measures:columns"  # results.csv gets the measured features under the AnnData's var names
CLUSTER, CLASSIFY = ("cluster",), ("classify",)

# (name, title, target, tasks (None: every task), order). Explainers' plugins fill the gaps
# (gmean 25, template-text 45, cluster-similarity 50, gradcam 60, trust 70).
OWN: tuple[tuple[str, str, str, tuple[str, ...] | None, int], ...] = (
    ("overview", "Clusters at a glance", "cellxai_report.cluster:overview", CLUSTER, 10),
    ("truth", "Clusters vs planted groups", "cellxai_report.cluster:truth_table", CLUSTER, 20),
    ("clusters", "Each cluster: what it is and why", "cellxai_report.cluster:cards", CLUSTER, 30),
    ("performance", "How well are the classes told apart?", "cellxai_report.classify:performance", CLASSIFY, 10),
    ("examples", "Typical samples of each class", "cellxai_report.classify:examples", CLASSIFY, 30),
    ("uncertain", "The most uncertain samples", "cellxai_report.classify:uncertain", CLASSIFY, 40),
    ("measurements", "Measured features", "cellxai_report.measures:render", None, 900),
    ("provenance", "Provenance", "cellxai_report.provenance:provenance", None, 1000),
)


def own_options(name: str, tasks: tuple[str, ...] | None, order: int) -> dict[str, Any]:
    """Options of one of the report's own sections; provenance (every task) carries the page writer and
    measurements (every task) the measured-feature columns of results.csv."""
    options: dict[str, Any] = {"order": order}
    if tasks is not None:
        options["tasks"] = tasks
    if name == "provenance":
        options["writer"] = WRITER
    if name == "measurements":
        options["columns"] = MEASURES
    return options


@hookimpl
def cellxai_report_sections(register: Register) -> None:
    for name, title, target, tasks, order in OWN:
        register(name, summary=title, target=target, **own_options(name, tasks, order))


@hookimpl
def cellxai_commands(cli: "typer.Typer") -> None:
    from .commands import add_commands

    add_commands(cli)
