"""What this plugin adds to the report and the command line, read back from its own store groups."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import typer
from typer.testing import CliRunner

import cellxai_gradcam.plugin as plugin
from cellxai_core.store import RunStore
from cellxai_core.testing import use_plugins
from cellxai_gradcam.report import gmean, maps, trust


class Section:
    """Records what a renderer puts in its section (the report's Section has the same methods)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def __getattr__(self, name: str):  # noqa: ANN204
        def record(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if name == "figure":
                import matplotlib.pyplot as plt

                plt.close(args[0])
            self.calls.append((name, args))
            return self

        return record

    def kinds(self) -> list[str]:
        return [name for name, _ in self.calls]


def _store(tmp_path, arrays: dict) -> RunStore:  # noqa: ANN001
    store = RunStore(tmp_path / "store.zarr", mode="w")
    for path, (data, attrs) in arrays.items():
        store.root.create_array(path, shape=data.shape, dtype=data.dtype, attributes=attrs)[...] = data
    store.set_attrs("samples", set_axis="time", set_labels=["day 1", "day 2"])
    return store


def test_registers_three_sections_the_maps_and_evaluate():
    with use_plugins(plugin) as reg:
        assert reg.names("section") == ["gmean", "gradcam", "trust"]
        entry = reg.get("section", "gradcam")
        assert entry.load(entry.options["maps"]) is maps.sample_maps and entry.options["maps_label"] == "Grad-CAM"
        assert [reg.get("section", n).options["order"] for n in ("gmean", "gradcam", "trust")] == [25, 60, 70]
    app = typer.Typer()
    plugin.cellxai_commands(cli=app)
    app.command()(lambda: None)  # a second command, so typer keeps the subcommand name
    result = CliRunner().invoke(app, ["evaluate", "--help"])
    assert result.exit_code == 0 and "faithful" in result.output and "--set" in result.output


def test_sample_maps_reads_only_the_rows_asked_for(tmp_path):
    stack = np.random.default_rng(0).uniform(size=(5, 2, 6, 6)).astype(np.float16)
    store = _store(tmp_path, {"explanations/gradcam/maps": (stack, {}), "samples/id": (np.arange(5), {})})
    run = SimpleNamespace(store=store)
    got = maps.sample_maps(run, [3, 1])
    assert got.dtype == np.float32 and np.array_equal(got, stack[[3, 1]].astype(np.float32))
    assert maps.sample_maps(SimpleNamespace(store=_store(tmp_path / "b", {})), [0]) is None


def test_without_results_every_section_says_what_to_run(tmp_path):
    run = SimpleNamespace(store=_store(tmp_path, {}), task="cluster")
    for render, words in ((maps.render, "No Grad-CAM maps"), (gmean.render, "No gmean explainer"),
                          (trust.render, "cellxai evaluate RUN_DIR")):
        section = Section()
        render(run, section)
        assert section.kinds() == ["note"] and words in section.calls[0][1][0]


def test_gmean_section_of_a_cluster_run_draws_the_largest_clusters(tmp_path):
    rng = np.random.default_rng(1)
    shape = rng.uniform(size=(2, 2, 2, 8, 8)).astype(np.float32)  # (G, S, C, H, W)
    cam = rng.uniform(size=(2, 2, 8, 8)).astype(np.float32)
    store = _store(tmp_path, {"explanations/gmean/shape": (shape, {}), "explanations/gmean/gradcam": (cam, {})})
    store.set_attrs("explanations/gmean", group_ids=[0, 1], groups=["cluster 0", "cluster 1"])
    section = Section()
    gmean.render(SimpleNamespace(store=store, task="cluster", labels=np.array([0, 1, 1])), section)
    assert section.kinds() == ["figure"] and section.calls[0][1][1].startswith("The typical well of each cluster")
