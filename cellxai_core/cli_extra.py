"""Commands on finished runs: explain, evaluate, report, export, compare.

Each imports its implementation only when called, so ``cellxai --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from .errors import UserError


def _parse_params(items: list[str]) -> dict:
    from .config import apply_overrides

    return apply_overrides({}, items, "--set")


def register_commands(app: typer.Typer) -> None:
    @app.command()
    def explain(
        run_dir: Path = typer.Argument(..., help="a finished run directory"),
        name: str = typer.Argument(..., help="explainer name (see `cellxai plugins list --kind explainer`)"),
        set_: List[str] = typer.Option([], "--set", help="explainer parameter: key=value"),
    ) -> None:
        """Run one more explainer on a finished run."""
        from .pipeline import explain_run

        attrs = explain_run(run_dir, name, _parse_params(list(set_)))
        typer.echo(f"{run_dir}: explanations/{name} written")
        if attrs:
            typer.echo(json.dumps(attrs, indent=2, default=str)[:4000])

    @app.command()
    def evaluate(
        run_dir: Path = typer.Argument(..., help="a finished run directory with Grad-CAM maps"),
        set_: List[str] = typer.Option([], "--set", help="faithfulness parameter: key=value"),
    ) -> None:
        """Measure whether the Grad-CAM maps are faithful (deletion AUC, pointing game, randomisation)."""
        from .pipeline import explain_run

        attrs = explain_run(run_dir, "faithfulness", _parse_params(list(set_)))
        typer.echo(json.dumps(attrs, indent=2, default=str))

    @app.command()
    def report(run_dir: Path = typer.Argument(..., help="a finished run directory")) -> None:
        """Write RUN_DIR/report.html."""
        try:
            from .report import write_report
        except ImportError as exc:
            raise UserError(f"report: not available in this installation ({exc})") from None
        path = write_report(run_dir)
        typer.echo(f"report written: {path}")

    @app.command()
    def export(
        run_dir: Path = typer.Argument(..., help="a finished run directory"),
        fmt: str = typer.Option("anndata", "--format", "-f", help="anndata"),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="output file (default RUN_DIR/run.h5ad)"),
    ) -> None:
        """Export a run for other tools (AnnData .h5ad for scanpy)."""
        if fmt != "anndata":
            raise UserError(f"--format: expected anndata, got '{fmt}'")
        try:
            from .export import export_anndata
        except ImportError as exc:
            raise UserError(f"export: not available in this installation ({exc})") from None
        path = export_anndata(run_dir, out)
        typer.echo(f"exported: {path}")

    try:
        from .compare import compare_command
    except ImportError:
        return
    app.command(name="compare")(compare_command)
