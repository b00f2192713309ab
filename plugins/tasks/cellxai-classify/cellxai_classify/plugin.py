"""Registers the ``classify`` task and the ``cellxai compare`` command. No torch here:
the task's target is imported only when a pipeline uses it, the command's module when
the CLI starts (it imports typer and the standard library only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cellxai_core.hookspecs import Register, hookimpl

from .config import ClassifyParams

if TYPE_CHECKING:  # pragma: no cover
    import typer


@hookimpl
def cellxai_tasks(register: Register) -> None:
    register(
        "classify",
        summary="Stratified k-fold training of encoder + fusion + a linear head on the dataset's classes; "
        "out-of-fold probabilities, metrics, ROC, MC-dropout uncertainty",
        params=ClassifyParams,
        target="cellxai_classify.task:ClassifyTask",
    )


@hookimpl
def cellxai_commands(cli: "typer.Typer") -> None:
    from .compare import compare_command

    cli.command(name="compare")(compare_command)
