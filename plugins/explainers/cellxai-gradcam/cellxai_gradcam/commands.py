"""``cellxai evaluate``: are the Grad-CAM maps faithful? Runs the ``faithfulness`` explainer on a finished run.

Imports of the pipeline happen inside the command, so ``cellxai --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import typer


def add_commands(cli: typer.Typer) -> None:
    """Add ``evaluate`` to the ``cellxai`` app (``cellxai_commands``)."""

    @cli.command()
    def evaluate(
        run_dir: Path = typer.Argument(..., help="a finished run directory with Grad-CAM maps"),
        set_: List[str] = typer.Option([], "--set", help="faithfulness parameter: key=value"),
    ) -> None:
        """Measure whether the Grad-CAM maps are faithful (deletion AUC, pointing game, randomisation)."""
        from cellxai_core.config import apply_overrides
        from cellxai_core.pipeline import explain_run

        attrs = explain_run(run_dir, "faithfulness", apply_overrides({}, list(set_), "--set"))
        typer.echo(json.dumps(attrs, indent=2, default=str))
