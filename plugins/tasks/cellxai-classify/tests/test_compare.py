import csv

import pytest
import typer
import yaml
from scipy import stats
from typer.testing import CliRunner

from cellxai_classify.compare import compare_command, compare_runs, parse_group
from cellxai_core.errors import UserError
from cellxai_core.store import RunStore


def fake_run(path, aucs, task="classify"):
    """A finished run directory with only what compare reads."""
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(yaml.safe_dump({"config": {"task": task}}))
    store = RunStore(path / "store.zarr")
    store.set_attrs(status="complete")
    store.set_attrs("predictions", fold_metrics=[{"auc_macro": a, "f1_macro": a - 0.1} for a in aucs])
    return path


@pytest.fixture
def runs(tmp_path):
    return {
        "mhl": fake_run(tmp_path / "mhl", [0.95, 0.97, 0.96, 0.98, 0.94]),
        "rgb": fake_run(tmp_path / "rgb", [0.96, 0.99, 0.97, 0.98, 0.97]),
        "resnet": fake_run(tmp_path / "resnet", [0.80, 0.85, 0.78, 0.90, 0.82]),
    }


def test_pairwise_welch_tests_with_bonferroni(runs):
    rows = compare_runs([runs["mhl"], runs["rgb"], runs["resnet"]], "auc_macro")
    assert [(r["a"], r["b"]) for r in rows] == [("mhl", "rgb"), ("mhl", "resnet"), ("rgb", "resnet")]
    ref = stats.ttest_ind([0.95, 0.97, 0.96, 0.98, 0.94], [0.80, 0.85, 0.78, 0.90, 0.82], equal_var=False)
    row = rows[1]
    assert row["p"] == pytest.approx(ref.pvalue) and row["t"] == pytest.approx(ref.statistic)
    assert row["p_bonferroni"] == pytest.approx(min(1.0, 3 * ref.pvalue))
    assert row["significant"] and not rows[0]["significant"]
    assert row["mean_a"] == pytest.approx(0.96) and row["n_a"] == 5


def test_groups_pool_their_runs_fold_values(runs):
    rows = compare_runs([runs["resnet"]], "f1_macro", groups={"attention": [runs["mhl"], runs["rgb"]]})
    assert len(rows) == 1
    (row,) = rows
    assert (row["a"], row["b"], row["n_a"], row["n_b"]) == ("attention", "resnet", 10, 5)
    assert row["p_bonferroni"] == pytest.approx(row["p"])  # one pair: no correction


def test_user_errors(runs, tmp_path):
    with pytest.raises(UserError, match="available: auc_macro, f1_macro"):
        compare_runs([runs["mhl"], runs["rgb"]], "auc")
    with pytest.raises(UserError, match="not a classify run"):
        compare_runs([runs["mhl"], fake_run(tmp_path / "clu", [0.5], task="cluster")], "auc_macro")
    with pytest.raises(UserError, match="at least two"):
        compare_runs([runs["mhl"]], "auc_macro")
    with pytest.raises(UserError, match="NAME=DIR"):
        parse_group("just-a-dir")


def test_command_prints_the_table_and_writes_csv(runs, tmp_path):
    app = typer.Typer()
    app.command("compare")(compare_command)
    app.command("noop")(lambda: None)  # force sub-command style, as in the cellxai app
    out = tmp_path / "cmp.csv"
    args = ["compare", str(runs["resnet"]), "--group", f"attention={runs['mhl']},{runs['rgb']}", "--csv", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "attention" in result.output and "Bonferroni" in result.output
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["a"] == "attention" and float(rows[0]["p"]) < 0.05


def test_the_cellxai_command_line_has_compare_from_the_plugin(runs, tmp_path):
    from cellxai_core.cli import main

    out = tmp_path / "cli.csv"
    code = main(["compare", str(runs["mhl"]), str(runs["resnet"]), "-m", "f1_macro", "--csv", str(out), "--alpha", "0.01"])
    assert code == 0
    with open(out) as fh:
        (row,) = list(csv.DictReader(fh))
    assert (row["a"], row["b"], row["metric"]) == ("mhl", "resnet", "f1_macro")
    assert main(["compare", str(runs["mhl"]), "--metric", "nope"]) == 2  # a user error: one line, exit 2
