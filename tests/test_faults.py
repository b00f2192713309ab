"""Faults a user meets: a second run on the same directory, signals, a full or read-only disk."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import core_plugin
import cellxai_core as cx
from cellxai_core import rundir
from cellxai_core.cli import main
from cellxai_core.store import RunStore

TESTS = Path(__file__).parent


def test_second_writer_is_refused_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "r"
    with rundir.locked(out):
        child = subprocess.run(
            [sys.executable, "-c", "import sys; from pathlib import Path; from cellxai_core import rundir\n"
             "with rundir.locked(Path(sys.argv[1])): pass", str(out)],
            capture_output=True, text=True,
        )
    assert child.returncode != 0 and f"pid {os.getpid()}" in child.stderr and "another cellxai process" in child.stderr
    with rundir.locked(out):  # released: taken again
        pass


def test_lock_of_a_killed_run_is_taken_over(tmp_path):
    out = tmp_path / "r"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from cellxai_core import rundir\n"
         "with rundir.locked(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    with rundir.locked(out):
        assert (out / rundir.LOCK).read_text() == str(os.getpid())
    assert not (out / rundir.LOCK).exists()


def test_concurrent_run_exits_2_and_the_first_finishes(registry, pipeline_file, tmp_path, capsys):
    out = tmp_path / "r"
    with rundir.locked(out):
        code = main(["run", str(pipeline_file()), "--out", str(out), "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and "another cellxai process" in err and len(err.strip().splitlines()) == 1
    assert main(["run", str(pipeline_file()), "--out", str(out)]) == 0


@pytest.mark.parametrize(("code", "words"), [(errno.ENOSPC, "no space left on device"), (errno.EROFS, "read-only file system")])
def test_full_or_read_only_disk_is_a_user_error_and_the_run_is_failed(registry, pipeline_file, tmp_path, capsys, monkeypatch, code, words):
    from cellxai_core import stages

    def full(ctx):
        raise OSError(code, os.strerror(code), str(ctx.run_dir / "store.zarr/features/tokens/c/0"))

    monkeypatch.setattr(stages, "encode", full)
    out = tmp_path / "r"
    rc = main(["run", str(pipeline_file()), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and str(out) in err and "Traceback" not in err
    assert RunStore(out / "store.zarr").attrs()["status"] == "failed"
    assert not (out / "results.csv").exists()


def test_vanished_output_is_a_user_error(registry, pipeline_file, tmp_path, capsys, monkeypatch):
    import shutil

    from cellxai_core import stages

    def vanish(ctx):
        shutil.rmtree(ctx.run_dir)
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(ctx.run_dir / "store.zarr"))

    monkeypatch.setattr(stages, "encode", vanish)
    rc = main(["run", str(pipeline_file()), "--out", str(tmp_path / "r")])
    assert rc == 2 and "disappeared" in capsys.readouterr().err


RUNNER = TESTS / "runner.py"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_at_a_batch_boundary_and_resume_finishes_equal(registry, tmp_path, signum):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(dict(core_plugin.PIPELINE, batch_size=2)))
    slow = ["--set", "encoder.params.delay=0.1"]
    out = tmp_path / "r"
    proc = subprocess.Popen([sys.executable, str(RUNNER), "-q", "run", str(path), "--out", str(out), *slow],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "store.zarr" / "_partial" / "encode").exists() and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
    assert RunStore(out / "store.zarr").attrs()["status"] == "interrupted"
    assert not (out / "results.csv").exists()
    resumed = subprocess.run([sys.executable, str(RUNNER), "-q", "run", str(path), "--out", str(out), *slow, "--resume"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    clean = cx.run(path, out=tmp_path / "clean", overrides={"encoder.params.delay": 0.1})
    for key in ("features/tokens", "features/fused", "clusters/labels"):
        assert np.array_equal(cx.open_run(out).array(key), clean.array(key)), key


class _Failing:
    requires, after, tasks = (), (), ("cluster",)

    def __init__(self, bug: bool = False, nothing: bool = False) -> None:
        self.bug, self.nothing = bug, nothing

    def run(self, ctx, out):
        out.create_array("half", (2,), "float32")[...] = 1.0
        if self.nothing:
            raise cx.NotApplicable("test-failing: one cluster, nothing to contrast")
        if self.bug:
            raise RuntimeError("a bug in the explainer")
        raise cx.DataError("this data has no cells")


def _failing_plugin():
    import types

    from pydantic import BaseModel, ConfigDict

    class FailingParams(BaseModel):
        model_config = ConfigDict(extra="forbid")
        bug: bool = False
        nothing: bool = False

    @cx.hookimpl
    def cellxai_explainers(register):
        register("test-failing", summary="fails", params=FailingParams, target=f"{__name__}:_Failing")

    return types.SimpleNamespace(__name__="failing", cellxai_explainers=cellxai_explainers)


@pytest.mark.parametrize(("bug", "exit_code"), [(False, 2), (True, 1)])
def test_a_failing_explainer_keeps_the_run(registry, pipeline_file, tmp_path, capsys, bug, exit_code):
    registry.add_plugin(_failing_plugin())
    explainers = [{"name": "test-failing", "params": {"bug": bug}}, {"name": "test-sizes"}]
    out = tmp_path / "r"
    code = main(["run", str(pipeline_file({"explainers": explainers})), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == exit_code and "explainer 'test-failing' failed" in err and f"cellxai explain {out} test-failing" in err
    run = cx.open_run(out)  # complete: every other stage and results.csv are there
    assert run.stages["explain:test-failing"]["status"] == "failed" and "no cells" in err or bug
    assert run.stages["explain:test-sizes"]["status"] == "done" and len(run.results()) == len(run.ids)
    assert "test-failing" not in run.explanations and not (out / "store.zarr" / "_partial").exists()


def test_the_report_says_which_explainer_failed(registry, pipeline_file, tmp_path, capsys):
    registry.add_plugin(_failing_plugin())
    out = tmp_path / "r"
    code = main(["run", str(pipeline_file({"explainers": [{"name": "test-failing"}], "report": True})), "--out", str(out)])
    assert code == 2
    html = (out / "report.html").read_text()
    assert "Stage explain:test-failing failed" in html and "this data has no cells" in html


def test_an_explainer_with_nothing_to_explain_is_skipped_with_a_note(registry, pipeline_file, tmp_path, capsys):
    """#12 item 7: one cluster -> explainers that need two are skipped with a note; the run is complete, exit 0."""
    registry.add_plugin(_failing_plugin())
    explainers = [{"name": "test-failing", "params": {"nothing": True}}, {"name": "test-sizes"}]
    out = tmp_path / "r"
    code = main(["run", str(pipeline_file({"explainers": explainers, "report": True})), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    run = cx.open_run(out)
    stage = run.stages["explain:test-failing"]
    assert stage["status"] == "skipped" and "nothing to contrast" in stage["note"]
    assert run.stages["explain:test-sizes"]["status"] == "done" and len(run.results()) == len(run.ids)
    assert "test-failing" not in run.explanations
    assert "Stage explain:test-failing was skipped: test-failing: one cluster" in (out / "report.html").read_text()
