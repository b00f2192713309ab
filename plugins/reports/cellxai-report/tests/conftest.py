"""Runs made once per session with the real pipeline, and their reports.

Components: ``report_plugin`` (wells of three programs, cells of two classes), plus whichever
real explainers are installed (gradcam, gmean, template-text, cluster-similarity): a report
must show what a run has and say what it lacks.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import report_plugin  # noqa: E402

import cellxai_core as cx  # noqa: E402
from cellxai_core.testing import use_plugins  # noqa: E402

CLUSTER_EXPLAINERS = ("gradcam", "gmean", "template-text", "cluster-similarity")
CLASSIFY_EXPLAINERS = ("gradcam", "gmean")
PLUGINS = (report_plugin,)


@pytest.fixture(autouse=True)
def report_registry():
    """The installed plugins plus the test components, for each test here (reports rebuild datasets by name).

    Per test, not per session, so that tests elsewhere never see these components.
    """
    with use_plugins(*PLUGINS, installed=True) as reg:
        yield reg


def available(registry, names) -> list[dict]:  # noqa: ANN001
    return [{"name": n} for n in names if n in registry.names("explainer")]


@pytest.fixture(scope="session")
def cluster_run(tmp_path_factory):
    """A clustering run with every installed explainer and ``report: true``."""
    with use_plugins(*PLUGINS, installed=True) as reg:
        cfg = copy.deepcopy(report_plugin.CLUSTER)
        cfg["explainers"] = available(reg, CLUSTER_EXPLAINERS)
        for spec in cfg["explainers"]:
            if spec["name"] == "gradcam":  # measure faithfulness too, on a few samples
                spec["params"] = {"faithfulness": True, "n_samples": 6, "deletion_steps": 4}
        cfg["report"] = True
        return cx.run(cfg, out=tmp_path_factory.mktemp("runs") / "cluster")


@pytest.fixture(scope="session")
def bare_run(tmp_path_factory):
    """A clustering run without explainers: every explanation section must become a note."""
    with use_plugins(*PLUGINS, installed=True):
        return cx.run(copy.deepcopy(report_plugin.BARE), out=tmp_path_factory.mktemp("runs") / "bare")


@pytest.fixture(scope="session")
def classify_run(tmp_path_factory):
    from cellxai_report import write_report

    with use_plugins(*PLUGINS, installed=True) as reg:
        cfg = copy.deepcopy(report_plugin.CLASSIFY)
        cfg["explainers"] = available(reg, CLASSIFY_EXPLAINERS)
        run = cx.run(cfg, out=tmp_path_factory.mktemp("runs") / "classify")
        write_report(run.path)
        return run
