"""The pluggy hook specs: one per kind of component, plus report sections and commands.

A plugin module implements any of these with ``@cellxai_core.hookimpl``. The component
hooks hand it a ``register`` callback, called once per component::

    register(name, summary=..., params=ParamsModel, target="pkg.module:Object")

Importing the plugin module must stay cheap: no torch, no heavy imports; the target is
imported only when a pipeline builds the component. ``cellxai_commands`` receives the
typer app instead, as simonw/llm's ``register_commands`` receives its click group.
"""

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
    """The callback every component hook receives."""

    def __call__(
        self, name: str, *, summary: str, target: str, params: "type[BaseModel] | None" = None, **options: Any
    ) -> None:
        """Register one component. ``options`` are kind-specific (report sections: see below)."""


@hookspec
def cellxai_datasets(register: Register) -> None:
    """Register datasets: the target is called with the validated params and returns a
    :class:`cellxai_core.data.Dataset`."""


@hookspec
def cellxai_encoders(register: Register) -> None:
    """Register per-image encoders (N, C, H, W) -> (N, D): the target is called with the
    params plus ``in_channels=C`` and returns a :class:`cellxai_core.components.Encoder`."""


@hookspec
def cellxai_fusions(register: Register) -> None:
    """Register fusions across the set axis (B, S, D) -> (B, D'): the target is called with
    the params plus ``token_dim``, ``side_dim`` (0 without side features) and ``set_size``."""


@hookspec
def cellxai_clusterers(register: Register) -> None:
    """Register scikit-learn style clusterers (``fit_predict(X)``)."""


@hookspec
def cellxai_explainers(register: Register) -> None:
    """Register explainers that read a run and write ``explanations/<name>``."""


@hookspec
def cellxai_tasks(register: Register) -> None:
    """Register tasks (:class:`cellxai_core.components.Task`): what a run computes after the
    features. The task's ``params`` model names top-level sections of the pipeline file
    (e.g. ``classify:``), validated only when that task is chosen."""


@hookspec
def cellxai_report_sections(register: Register) -> None:
    """Register a report section and / or ``results.csv`` columns of the plugin's own results.

    ``target`` renders the section: ``render(run, section)`` fills a
    :class:`cellxai_core.components.ReportSection`. Options: ``columns="pkg.mod:func"``
    (``func(run) -> {column: (N,) values}``, added to ``results.csv``), ``tasks`` (the
    tasks the section applies to) and ``order`` (its place on the page, lower first).
    """


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
}
KINDS = tuple(HOOKS)
