"""``cellxai compare``: Welch t-tests between classify runs, or groups of runs, Bonferroni-corrected.

Each run contributes its per-fold values of one metric (``predictions`` attrs
``fold_metrics``). A group (a model family) pools the fold values of its runs. Every
pair of runs / groups is tested with Welch's unequal-variance t-test; the p-values
are multiplied by the number of pairs (Bonferroni) and capped at 1.

Module import stays light (typer and the standard library; scipy, rich and the run
reader are imported when called) because the CLI mounts this command at start-up.
"""

from __future__ import annotations

import csv
import itertools
import math
import statistics
from pathlib import Path
from typing import Any, List, Optional, Sequence

import typer

from cellxai_core import schema
from cellxai_core.errors import UserError

COLUMNS = (
    "a", "b", "metric", "n_a", "mean_a", "sd_a", "n_b", "mean_b", "sd_b", "t", "df", "p", "p_bonferroni", "significant",
)


def fold_values(run_dir: str | Path, metric: str) -> list[float]:
    """The per-fold values of ``metric`` in a finished classify run."""
    from cellxai_core.api import open_run

    run = open_run(run_dir)
    if run.task != "classify" or not run.store.has(schema.PREDICTIONS):
        raise UserError(f"{run_dir}: not a classify run (no predictions); compare needs runs with task: classify")
    folds = run.store.attrs(schema.PREDICTIONS).get("fold_metrics") or []
    if not folds:
        raise UserError(f"{run_dir}: predictions have no fold_metrics")
    if metric not in folds[0]:
        raise UserError(f"--metric: '{metric}' is not in {run_dir}; available: {', '.join(folds[0])}")
    values = [m[metric] for m in folds]
    if any(v is None for v in values):
        raise UserError(f"{run_dir}: metric '{metric}' is undefined in some fold")
    return [float(v) for v in values]


def parse_group(text: str) -> tuple[str, list[Path]]:
    """``NAME=DIR,DIR`` -> (NAME, [DIR, DIR])."""
    name, sep, dirs = text.partition("=")
    paths = [Path(d) for d in dirs.split(",") if d.strip()]
    if not sep or not name.strip() or not paths:
        raise UserError(f"--group: expected NAME=DIR[,DIR...], got '{text}'")
    return name.strip(), paths


def welch(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """(t, df, two-sided p) of Welch's t-test; two constant samples give p 1 (equal) or 0 (different)."""
    from scipy import stats

    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan, math.nan
    if statistics.pvariance(a) == 0 and statistics.pvariance(b) == 0:
        same = statistics.fmean(a) == statistics.fmean(b)
        return (0.0 if same else math.copysign(math.inf, statistics.fmean(a) - statistics.fmean(b))), math.nan, (
            1.0 if same else 0.0
        )
    res = stats.ttest_ind(a, b, equal_var=False)
    return float(res.statistic), float(getattr(res, "df", math.nan)), float(res.pvalue)


def _units(run_dirs: Sequence[str | Path], metric: str, groups: dict[str, Sequence[str | Path]] | None) -> dict[str, list[float]]:
    units: dict[str, list[float]] = {}
    for name, dirs in (groups or {}).items():
        units[name] = [v for d in dirs for v in fold_values(d, metric)]
    for d in run_dirs:
        name = Path(d).name or str(d)
        if name in units:
            name = str(d)
        units[name] = fold_values(d, metric)
    if len(units) < 2:
        raise UserError("compare: give at least two runs or two groups")
    return units


def compare_runs(
    run_dirs: Sequence[str | Path],
    metric: str = "auc_macro",
    groups: dict[str, Sequence[str | Path]] | None = None,
    alpha: float = 0.05,
) -> list[dict[str, Any]]:
    """One row per pair of runs / groups (columns :data:`COLUMNS`), Bonferroni over all pairs."""
    units = _units(run_dirs, metric, groups)
    pairs = list(itertools.combinations(units, 2))
    rows = []
    for a, b in pairs:
        va, vb = units[a], units[b]
        t, df, p = welch(va, vb)
        p_adj = min(1.0, p * len(pairs)) if not math.isnan(p) else math.nan
        rows.append(
            {
                "a": a, "b": b, "metric": metric,
                "n_a": len(va), "mean_a": statistics.fmean(va), "sd_a": _sd(va),
                "n_b": len(vb), "mean_b": statistics.fmean(vb), "sd_b": _sd(vb),
                "t": t, "df": df, "p": p, "p_bonferroni": p_adj,
                "significant": bool(p_adj < alpha) if not math.isnan(p_adj) else False,
            }
        )
    return rows


def _sd(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def write_csv(rows: list[dict[str, Any]], path: str | Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)


def _fmt(x: float, digits: int = 4) -> str:
    return "n/a" if isinstance(x, float) and math.isnan(x) else f"{x:.{digits}g}"


def print_table(rows: list[dict[str, Any]], alpha: float) -> None:
    from rich.console import Console
    from rich.table import Table

    metric = rows[0]["metric"]
    table = Table(title=f"Welch t-tests on {metric} (Bonferroni over {len(rows)} pairs, alpha {alpha})")
    for col in ("A", "mean ± sd A (n)", "B", "mean ± sd B (n)", "t", "df", "p", "p Bonferroni", "significant"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["a"], f"{r['mean_a']:.4f} ± {r['sd_a']:.4f} ({r['n_a']})",
            r["b"], f"{r['mean_b']:.4f} ± {r['sd_b']:.4f} ({r['n_b']})",
            _fmt(r["t"], 3), _fmt(r["df"], 3), _fmt(r["p"]), _fmt(r["p_bonferroni"]),
            "[bold]yes[/bold]" if r["significant"] else "no",
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(table)


def compare_command(
    run_dirs: Optional[List[Path]] = typer.Argument(None, metavar="RUN_DIR...", help="classify run directories, each compared as its own unit"),
    metric: str = typer.Option("auc_macro", "--metric", "-m", help="accuracy, recall, precision, auc_macro, auc_micro, auc_weighted, f1_macro, f1_micro, f1_weighted, f1_samples"),
    group: List[str] = typer.Option([], "--group", "-g", help="a group of runs pooled as one unit (a model family): NAME=DIR,DIR"),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="also write the table as CSV"),
    alpha: float = typer.Option(0.05, "--alpha", help="significance level after Bonferroni correction"),
) -> None:
    """Welch t-tests between classify runs (or groups of runs) on a per-fold metric, Bonferroni-corrected."""
    groups = dict(parse_group(g) for g in group)
    rows = compare_runs(list(run_dirs or []), metric, groups or None, alpha)
    print_table(rows, alpha)
    if csv_path is not None:
        write_csv(rows, csv_path)
        typer.echo(f"written: {csv_path}")
