"""``cellxai report`` and ``cellxai export``: the implementation is imported only when a command runs."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cellxai_core.errors import UserError


def add_commands(cli: typer.Typer) -> None:
    """Add ``report`` and ``export`` to the ``cellxai`` app (``cellxai_commands``)."""

    @cli.command()
    def report(run_dir: Path = typer.Argument(..., help="a finished run directory")) -> None:
        """Write RUN_DIR/report.html."""
        try:
            from . import write_report
        except ImportError as exc:
            raise UserError(f"report: not available in this installation ({exc})") from None
        path = write_report(run_dir)
        typer.echo(f"report written: {path}")

    @cli.command()
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
