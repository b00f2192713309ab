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
        fmt: str = typer.Option("summary", "--format", "-f", help="summary (the headline numbers) | json (the full record)"),
    ) -> None:
        """Measure whether the Grad-CAM maps are faithful (deletion AUC, pointing game, randomisation)."""
        from cellxai_core.config import apply_overrides
        from cellxai_core.pipeline import explain_run

        attrs = explain_run(run_dir, "faithfulness", apply_overrides({}, list(set_), "--set"))
        if fmt == "json":
            typer.echo(json.dumps(attrs, indent=2, default=str))
            return
        typer.echo(f"{run_dir}: faithfulness of the Grad-CAM maps ({run_dir}/store.zarr/explanations/faithfulness)")
        for key, value in _headline(attrs):
            typer.echo(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")
        typer.echo("  (--format json for every number)")


def _headline(attrs: dict, prefix: str = "") -> list[tuple[str, object]]:
    """The scalar numbers of the record, nested keys joined with dots, at most 20."""
    out: list[tuple[str, object]] = []
    for key, value in attrs.items():
        if isinstance(value, dict):
            out += _headline(value, f"{prefix}{key}.")
        elif isinstance(value, (int, float, str)) and len(str(value)) < 60:
            out.append((f"{prefix}{key}", value))
    return out[:20]
