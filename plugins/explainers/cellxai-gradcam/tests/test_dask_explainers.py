"""gradcam and gmean on Dask workers (issue #15): a real LocalCluster of 2 worker processes gives the arrays of a
local run bit for bit, and a worker SIGKILLed in the middle of a gradcam chunk costs that chunk only.

Exact equality, not a tolerance: every chunk runs the same code on the same device with the same thread count
(``threads: 1``), Grad-CAM has no randomness, and gmean's client adds the chunks' float64 sums in chunk order
whatever order the workers finished them in.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

from cellxai_core import Sample, hookimpl
from cellxai_core.testing import use_plugins

pytest.importorskip("distributed")
sys.path.insert(0, str(Path(__file__).parent))  # Dask workers import this module by its name
from disc_components import disc_sample, make_conv, make_kmeans, make_mean  # noqa: E402, F401 (registered below)

N = 16
CONFIG = {
    "seed": 0, "device": "cpu", "task": "cluster", "batch_size": 4, "chunk_size": 8, "threads": 1, "quality": False,
    "dataset": {"name": "dask-discs"}, "encoder": {"name": "dask-conv"}, "fusion": {"name": "dask-mean"},
    "clusterer": {"name": "dask-kmeans"},
    "explainers": [{"name": "gradcam", "params": {"batch_size": 4}}, {"name": "gmean", "params": {"batch_size": 4, "weights": "target_prob"}}],
}


class DiscParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    marker: str = ""
    watch: str = ""
    client_pid: int = 0


class Discs:
    """S=2 two-channel 16 px images with a bright disc in channel ``i % 2``. A worker process (not the client) that
    reads sample 13 while ``watch`` exists (gradcam's chunk marks: gradcam is running) SIGKILLs itself, once
    (the one reader that removes ``marker``)."""

    channels, set_axis, set_size, image_size, truth_keys = ("a", "b"), "time", 2, (16, 16), ("program",)

    def __init__(self, marker: str = "", watch: str = "", client_pid: int = 0) -> None:
        self.marker, self.watch, self.client_pid = marker, watch, client_pid

    def __len__(self) -> int:
        return N

    def __getitem__(self, i: int) -> Sample:
        if i == 13 and self.marker and os.getpid() != self.client_pid and os.path.exists(self.watch):
            try:
                os.unlink(self.marker)
            except FileNotFoundError:
                pass
            else:
                os.kill(os.getpid(), signal.SIGKILL)
        return disc_sample(i)


@hookimpl
def cellxai_datasets(register):
    register("dask-discs", summary="Discs in channel a or b.", params=DiscParams, target=f"{__name__}:Discs")


@hookimpl
def cellxai_encoders(register):
    register("dask-conv", summary="Two convs, mean pooled.", target=f"{__name__}:make_conv")


@hookimpl
def cellxai_fusions(register):
    register("dask-mean", summary="Mean over the set.", target=f"{__name__}:make_mean")


@hookimpl
def cellxai_clusterers(register):
    register("dask-kmeans", summary="k-means, k=2.", target=f"{__name__}:make_kmeans")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A local run, and the same pipeline on a LocalCluster of 2 workers, one of which is SIGKILLed in gradcam."""
    import cellxai_core as cx
    import test_dask_explainers  # by its importable name: the workers import it so

    tmp = tmp_path_factory.mktemp("dask")
    marker, watch = tmp / "kill-once", tmp / "dask" / "store.zarr" / "progress" / "explain.gradcam"
    dataset = {"name": "dask-discs", "params": {"marker": str(marker), "watch": str(watch), "client_pid": os.getpid()}}
    with use_plugins(test_dask_explainers, installed=True) as registry:
        local = cx.run(CONFIG, out=tmp / "local")
        marker.write_text("")
        dask = cx.run({**CONFIG, "dataset": dataset, "executor": {"name": "dask", "workers": 2}}, out=tmp / "dask")
        yield {"local": local, "dask": dask, "killed": not marker.exists(), "registry": registry}


def _explanations(run) -> dict[str, np.ndarray]:
    return {p: run.store.read(p) for p in run.store.tree() if p.startswith("explanations/")}


def test_gradcam_and_gmean_on_two_dask_workers_equal_local_with_a_worker_killed_mid_chunk(runs):
    local, dask = runs["local"], runs["dask"]
    assert runs["killed"], "no worker read sample 13 during gradcam: the kill was not exercised"
    assert dask.store.attrs()["executor"]["name"] == "dask" and local.store.attrs()["executor"]["name"] == "local"
    stages = dask.store.attrs()["stages"]
    assert stages["explain:gradcam"]["status"] == stages["explain:gmean"]["status"] == "done"

    left, right = _explanations(local), _explanations(dask)
    assert sorted(left) == sorted(right)
    assert {"explanations/gradcam/maps", "explanations/gmean/gradcam", "explanations/gmean/shape"} <= set(left)
    for path in left:
        np.testing.assert_array_equal(left[path], right[path], err_msg=path)
    for group in ("explanations/gradcam", "explanations/gmean"):
        assert local.store.attrs(group) == dask.store.attrs(group), group
    maps = left["explanations/gradcam/maps"]
    assert maps.shape == (N, 2, 16, 16) and float(maps.max()) == 1.0  # real maps, not an all-zero fill
    assert left["explanations/gmean/count"].sum() == N and float(left["explanations/gmean/gradcam"].max()) > 0
    assert not Path(dask.path, "store.zarr", "_partial").exists()


def test_faithfulness_chunks_on_dask_workers_equal_local(runs):
    """faithfulness_chunks.measure_chunked on a finished run: 2 Dask workers give the local executor's arrays."""
    from cellxai_core.config import load_config
    from cellxai_core.context import RunContext
    from cellxai_core.store import RunStore
    from cellxai_dask.executor import DaskExecutor
    from cellxai_gradcam.faithfulness_chunks import measure_chunked
    from cellxai_gradcam.modeling import head_from_arrays, with_head
    from cellxai_gradcam.params import FaithfulnessParams

    run_dir = Path(runs["local"].path)
    cfg, params = load_config(runs["local"].config, registry=runs["registry"])
    ctx = RunContext.open(cfg, params, run_dir, runs["registry"])
    ctx.store = store = RunStore(run_dir / "store.zarr")
    head = head_from_arrays(store.read("explanations/gradcam/head_weight"), store.read("explanations/gradcam/head_bias"), "cpu")
    model, layer = with_head(ctx.model(), head), store.attrs("explanations/gradcam")["layer"]
    maps, targets = store.array("explanations/gradcam/maps"), store.read("explanations/gradcam/targets")
    faith = FaithfulnessParams(n_samples=8, deletion_steps=3, batch_size=3, road_percentages=[30.0], road_lerf=False,
                               sensitivity_samples=1)  # 3 chunks; ROAD and sensitivity draw noise: seeded per chunk
    indices = np.arange(0, N, 2)
    here = measure_chunked(ctx, model, layer, maps, targets, indices, faith, seed=0)
    ctx.executor = DaskExecutor(workers=2)
    try:
        there = measure_chunked(ctx, model, layer, maps, targets, indices, faith, seed=0)
    finally:
        ctx.executor.close()
    assert here[1:] == there[1:] and here[3] == ["head", "head+encoder"]
    assert sorted(here[0]) == sorted(there[0]) and here[0]["deletion_curve"].shape == (8, 4)
    assert {"random_curve", "road_morf_prob", "random_road_morf_prob", "sensitivity", "spearman"} <= set(here[0])
    for name, value in here[0].items():
        np.testing.assert_array_equal(value, there[0][name], err_msg=name)
