"""The ``cellxai`` command line. Exit codes: 0 success; 2 the user's input is wrong (one line on stderr, no
traceback); 1 a bug (the traceback with ``--debug``). Heavy imports happen inside commands."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .errors import UserError
from .hookspecs import KINDS
from .registry import get_registry

app = typer.Typer(name="cellxai", help="Explainable clustering and classification of cell microscopy images.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
plugins_app = typer.Typer(help="Installed plugins and their components.", no_args_is_help=True)
app.add_typer(plugins_app, name="plugins")
_state = {"debug": False}


def _version(asked: bool) -> None:
    if asked:
        typer.echo(f"cellxai {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    debug: bool = typer.Option(False, "--debug", help="show tracebacks of internal errors"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="only warnings and errors"),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_version, help="print the version and exit"),
) -> None:
    _state["debug"] = debug
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)


@app.command()
def run(
    pipeline: Path = typer.Argument(..., help="pipeline file (YAML)"),
    out: Path = typer.Option(..., "--out", "-o", help="run directory to write"),
    set_: List[str] = typer.Option([], "--set", help="override a setting: key.path=value (repeatable)"),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted run in --out"),
    overwrite: bool = typer.Option(False, "--overwrite", help="replace an existing run in --out"),
    device: Optional[str] = typer.Option(None, "--device", help="auto | cpu | cuda | cuda:N"),
) -> None:
    """Run a pipeline file into a run directory."""
    from .pipeline import run as run_pipeline

    try:
        result = run_pipeline(pipeline, out, list(set_), resume=resume, overwrite=overwrite, device=device)
    except KeyboardInterrupt as exc:
        again = " ".join(["cellxai run", str(pipeline), "--out", str(out), *(f"--set {s}" for s in set_), "--resume"])
        typer.echo(f"interrupted: {out} keeps every finished stage and chunk; continue with: {again}", err=True)
        raise typer.Exit(128 + getattr(exc, "signum", 2)) from None
    opened = "report.html, " if (result.path / "report.html").exists() else ""
    typer.echo(f"run complete: {result.path} ({len(result.ids)} samples); open {opened}results.csv, or `cellxai report {result.path}`")


@app.command()
def validate(
    pipeline: Path = typer.Argument(..., help="pipeline file (YAML)"),
    set_: List[str] = typer.Option([], "--set", help="override a setting: key.path=value"),
) -> None:
    """Check a pipeline file and every component's params without running it."""
    from .build import Builder
    from .config import load_config

    cfg, params = load_config(pipeline, list(set_))
    Builder(cfg, params, get_registry(), cfg.device).import_targets()
    parts = [f"{kind} {spec.name}" for _, kind, spec in cfg.components()]
    typer.echo(f"{pipeline}: valid ({cfg.task}; {', '.join(parts)})")


@app.command()
def explain(
    run_dir: Path = typer.Argument(..., help="a finished run directory"),
    name: str = typer.Argument(..., help="explainer name (see `cellxai plugins list --kind explainer`)"),
    set_: List[str] = typer.Option([], "--set", help="explainer parameter: key=value"),
    fmt: str = typer.Option("summary", "--format", "-f", help="summary (a line per number) | json (the full record)"),
) -> None:
    """Run one more explainer on a finished run."""
    from .config import apply_overrides
    from .pipeline import explain_run
    from .rundir import flat

    attrs = explain_run(run_dir, name, apply_overrides({}, list(set_), "--set"))
    typer.echo(json.dumps(attrs, indent=2, default=str) if fmt == "json" else f"{run_dir}: explanations/{name} written")
    scalars = [(k, v) for k, v in flat(attrs).items() if isinstance(v, (int, float, str)) and len(str(v)) < 60]
    for key, value in scalars[:20] if fmt != "json" else []:
        typer.echo(f"  {key}: {value:.4g}" if isinstance(value, float) else f"  {key}: {value}")


@app.command()
def schema(indent: int = typer.Option(2, help="JSON indentation")) -> None:
    """Print the JSON Schema of pipeline files, every installed plugin's params included."""
    from .config import json_schema

    typer.echo(json.dumps(json_schema(), indent=indent))


@plugins_app.command("list")
def plugins_list(
    kind: Optional[str] = typer.Option(None, "--kind", "-k", help=" | ".join(KINDS)),
    fmt: str = typer.Option("table", "--format", "-f", help="table | json"),
) -> None:
    """List components with their kind, summary, distribution, version and status."""
    if kind is not None and kind not in KINDS:
        raise UserError(f"--kind: unknown kind '{kind}'; expected one of {', '.join(KINDS)}")
    if fmt not in ("table", "json"):
        raise UserError(f"--format: expected table or json, got '{fmt}'")
    reg = get_registry()
    rows = [dict(name=r.name, kind=r.kind, summary=r.summary, distribution=r.distribution, version=r.version, status="ok",
                 target=r.target) for r in reg.components(kind)]
    rows += [dict(name=p.name, kind="-", summary=p.error, distribution=p.distribution, version=p.version, status=p.status,
                  target="") for p in reg.plugins if p.status != "ok" and kind is None]
    if fmt == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Column, Table

    columns = ("name", "kind", "summary", "distribution", "version", "status")
    table = Table(*(Column(c, overflow="fold") for c in columns), title="cellxai plugins")
    for row in rows:
        row["status"] = row["status"] if row["status"] == "ok" else f"[red]{row['status']}[/red]"
        table.add_row(*(row[c] for c in columns))
    console = Console()
    (console if console.is_terminal else Console(width=160)).print(table)


get_registry().add_commands(app)  # the plugins' commands (``cellxai_commands``): report, export, evaluate, compare, datasets ...


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app and map errors to exit codes (usage errors exit 2 via typer)."""
    try:
        app(args=argv, prog_name="cellxai")
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except UserError as exc:
        typer.echo("error: " + "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(exc)), err=True)  # one line, whatever the input held
        return exc.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # a bug: say so in one line unless --debug
        if _state["debug"] or "--debug" in (argv if argv is not None else sys.argv):
            raise
        typer.echo(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
