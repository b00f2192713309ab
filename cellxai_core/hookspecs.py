"""The pluggy hook specs: one per kind of component, plus report sections and commands.
Plugins implement them with ``@cellxai_core.plugin.hookimpl``; signatures and options: docs/architecture.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import typer
    from pydantic import BaseModel

PROJECT = "cellxai"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    """The callback every component hook receives; ``options`` are kind-specific."""

    def __call__(
        self, name: str, *, summary: str, target: str, params: "type[BaseModel] | None" = None, **options: Any
    ) -> None: ...


@hookspec
def cellxai_datasets(register: Register) -> None:
    """Datasets: ``Target(**params)`` is a :class:`cellxai_core.data.Dataset`."""


@hookspec
def cellxai_encoders(register: Register) -> None:
    """Per-image encoders: ``Target(**params, in_channels=C)``."""


@hookspec
def cellxai_fusions(register: Register) -> None:
    """Fusions across the set axis: ``Target(**params, token_dim=D, side_dim=F, set_size=S)``."""


@hookspec
def cellxai_clusterers(register: Register) -> None:
    """scikit-learn style clusterers (``fit_predict(X)``)."""


@hookspec
def cellxai_explainers(register: Register) -> None:
    """Explainers that read a run and write ``explanations/<name>``."""


@hookspec
def cellxai_tasks(register: Register) -> None:
    """Tasks; their Params fields are top-level sections of the pipeline file. Option: ``needs``."""


@hookspec
def cellxai_report_sections(register: Register) -> None:
    """Report sections ``render(run, section)`` and ``results.csv`` columns of the plugin's own results.
    Options: ``columns="pkg.mod:func"``, ``tasks``, ``order``; the report plugin adds ``writer``."""


@hookspec
def cellxai_executors(register: Register) -> None:
    """Executors of per-chunk stages (``executor: {name, ...params}``): ``map_chunks``, ``close``."""


@hookspec
def cellxai_commands(cli: "typer.Typer") -> None:
    """Add commands to the ``cellxai`` command line (``@cli.command()``); keep imports lazy."""


HOOKS = {
    "dataset": "cellxai_datasets",
    "encoder": "cellxai_encoders",
    "fusion": "cellxai_fusions",
    "clusterer": "cellxai_clusterers",
    "explainer": "cellxai_explainers",
    "task": "cellxai_tasks",
    "section": "cellxai_report_sections",
    "executor": "cellxai_executors",
}
KINDS = tuple(HOOKS)
