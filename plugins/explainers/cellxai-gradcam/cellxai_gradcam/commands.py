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
        """Can the Grad-CAM maps be trusted? Deletion / insertion vs random maps, localisation, sparseness, randomisation: a verdict each."""
        from cellxai_core.config import apply_overrides
        from cellxai_core.pipeline import explain_run

        attrs = explain_run(run_dir, "faithfulness", apply_overrides({}, list(set_), "--set"))
        if fmt == "json":
            typer.echo(json.dumps(attrs, indent=2, default=str))
            return
        typer.echo(f"{run_dir}: can the Grad-CAM maps be trusted? ({run_dir}/store.zarr/explanations/faithfulness, "
                   f"{attrs.get('n_samples', '?')} samples)")
        for line in verdict_table(attrs.get("verdicts") or []):
            typer.echo(line)
        typer.echo("  (--format json for every number)")


def verdict_table(rows: list[dict]) -> list[str]:
    """One line per verdict: PASS / FAIL / n/a, the check, its value, p and threshold."""
    lines = [f"  {'verdict':7} {'check':46} {'value':>7} {'p':>8}  threshold"]
    for row in rows:
        verdict = {True: "PASS", False: "FAIL"}.get(row.get("passed"), "n/a")
        p = row.get("p")
        value = row.get("value")
        lines.append(f"  {verdict:7} {row['check'][:46]:46} {value:7.3f} {('-' if p is None else f'{p:.1e}'):>8}  {row['threshold']}"
                     if isinstance(value, float) else f"  {verdict:7} {row['check']}")
        if row.get("passed") is not True:
            lines.append(f"  {'':7} {row.get('why', '')}")
    return lines
