"""Executors and the data path: Dask workers give the local run's arrays (a killed worker too),
read-ahead keeps CPU results bit-identical, and bad executor / precision settings are one-line errors."""

from __future__ import annotations

import copy
import os
import signal
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import BaseModel, ConfigDict

import core_plugin
from cellxai_core import hookimpl
from cellxai_core.cli import main
from cellxai_core.progress import StopRequested
from cellxai_core.testing import use_plugins


class KillerParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = 24
    marker: str = ""
    stop_marker: str = ""
    client_pid: int = 0


def _claim(marker: str) -> bool:
    """True for the one reader that removes ``marker`` first."""
    try:
        os.unlink(marker)
    except (FileNotFoundError, IsADirectoryError):
        return False
    return True


class KillerBlobs(core_plugin.Blobs):
    """test-blobs whose sample 13, read in any process but the client's, SIGKILLs that process once
    (a worker dying in the middle of an encode chunk); read by the client's loader threads, it stops
    the run once as Ctrl-C would (``stop_marker``)."""

    def __init__(self, n: int, marker: str, stop_marker: str, client_pid: int) -> None:
        super().__init__(n=n, size=16, seed=0)
        self.marker, self.stop_marker, self.client_pid = marker, stop_marker, client_pid

    def __getitem__(self, i: int):
        if i == 13 and os.getpid() != self.client_pid and self.marker and _claim(self.marker):
            os.kill(os.getpid(), signal.SIGKILL)
        reader = threading.current_thread().name
        if i == 13 and os.getpid() == self.client_pid and reader.startswith("cellxai-load") and _claim(self.stop_marker):
            raise StopRequested(signal.SIGINT)
        return super().__getitem__(i)


@hookimpl
def cellxai_datasets(register):
    register("test-killer-blobs", summary="Blobs that kill a worker once.", params=KillerParams, target=f"{__name__}:KillerBlobs")


@pytest.fixture
def plugins():
    import test_executor  # this module by its importable name: Dask workers import it by that name

    with use_plugins(core_plugin, test_executor, installed=True) as reg:
        yield reg


def _pipeline(**changes) -> dict:
    data = copy.deepcopy(core_plugin.PIPELINE)
    data.update(threads=1, **changes)
    return data


def _arrays(run) -> dict[str, np.ndarray]:
    return {path: run.store.read(path) for path in run.store.tree() if not path.startswith("progress")}


def _assert_same_arrays(a, b) -> None:
    left, right = _arrays(a), _arrays(b)
    assert sorted(left) == sorted(right)
    assert "features/tokens" in left and "features/handcrafted" in left
    for path in left:
        np.testing.assert_array_equal(left[path], right[path], err_msg=path)


def test_dask_two_workers_resume_a_local_run_survive_a_killed_worker_and_equal_local(plugins, tmp_path):
    """A local run stopped in encode's second chunk, resumed on 2 Dask workers (chunk marks kept), one
    of which is SIGKILLed reading a sample of that chunk: the arrays equal an uninterrupted local run's."""
    import cellxai_core as cx
    from cellxai_core.store import RunStore

    marker, stop = tmp_path / "kill-once", tmp_path / "stop-once"
    params = {"n": 24, "marker": str(marker), "stop_marker": str(stop), "client_pid": os.getpid()}
    dataset = {"name": "test-killer-blobs", "params": params}
    local = cx.run(_pipeline(dataset=dataset), out=tmp_path / "local")
    assert local.store.attrs()["executor"]["name"] == "local"
    stop.write_text("")
    with pytest.raises(KeyboardInterrupt):
        cx.run(_pipeline(dataset=dataset), out=tmp_path / "dask")
    stopped = RunStore(tmp_path / "dask" / "store.zarr")
    assert stopped.attrs()["status"] == "interrupted"
    assert stopped.read("progress/encode").tolist() == [True, False, False]  # chunk 0 kept, 1 and 2 left
    marker.write_text("")
    dask = cx.run(_pipeline(dataset=dataset, executor={"name": "dask", "workers": 2}), out=tmp_path / "dask", resume=True)
    assert not marker.exists(), "no worker read sample 13: the kill was not exercised"
    assert dask.store.attrs()["executor"] == {
        "name": "dask", "address": None, "workers": 2, "threads_per_worker": 1, "retries": 2, "timeout": 10.0}
    assert dask.store.attrs()["stages"]["encode"]["status"] == "done"
    _assert_same_arrays(local, dask)
    assert (tmp_path / "local" / "results.csv").read_text() == (tmp_path / "dask" / "results.csv").read_text()


def test_read_ahead_is_bit_identical_to_reading_in_place(registry, tmp_path):
    """loader_workers 0 (every batch read in the main thread, as before) and 3 threads: the same arrays,
    and the stored tokens are the model's tokens of load_batch's images, bit for bit."""
    import torch

    import cellxai_core as cx
    from cellxai_core.config import load_config
    from cellxai_core.context import RunContext
    from cellxai_core.data import load_batch

    inline = cx.run(_pipeline(loader_workers=0, batch_size=3, chunk_size=5), out=tmp_path / "inline")
    ahead = cx.run(_pipeline(loader_workers=3, batch_size=3, chunk_size=5), out=tmp_path / "ahead")
    _assert_same_arrays(inline, ahead)
    assert inline.store.attrs()["precision_used"] == "fp32"

    cfg, params = load_config(inline.config)
    ctx = RunContext.open(cfg, params, tmp_path / "inline", registry)
    model = ctx.model()
    with torch.no_grad():
        expected = np.concatenate([model.tokens(torch.from_numpy(load_batch(ctx.dataset, range(a, min(a + 3, 24)))[1])).numpy()
                                   for a in range(0, 24, 3)])
    np.testing.assert_array_equal(inline.store.read("features/tokens"), expected)


def _one_line_error(capsys, code, *needles) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if line]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _file(tmp_path: Path, data: dict) -> str:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.parametrize("address", ["localhost:8786", "tcp://host", "tcp://h:99999", "http://h:1"])
def test_malformed_address_is_refused_at_validation(registry, tmp_path, capsys, address):
    code = main(["validate", _file(tmp_path, _pipeline(executor={"name": "dask", "address": address}))])
    _one_line_error(capsys, code, "executor.address", "tcp://HOST:PORT")


def test_unknown_executor_and_key(registry, tmp_path, capsys):
    code = main(["validate", _file(tmp_path, _pipeline(executor={"name": "ray"}))])
    _one_line_error(capsys, code, "executor.name", "unknown executor 'ray'", "dask")
    code = main(["validate", _file(tmp_path, _pipeline(executor={"name": "dask", "nodes": 4}))])
    _one_line_error(capsys, code, "executor.nodes", "unknown parameter", "workers")
    code = main(["validate", _file(tmp_path, _pipeline(executor={"name": "local", "workers": 4}))])
    _one_line_error(capsys, code, "executor.workers", "unknown key")


def test_no_scheduler_at_address_is_a_user_error(registry, tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    executor = {"name": "dask", "address": f"tcp://127.0.0.1:{port}", "timeout": 1}
    code = main(["run", _file(tmp_path, _pipeline(executor=executor)), "--out", str(tmp_path / "o")])
    _one_line_error(capsys, code, "executor.address", f"tcp://127.0.0.1:{port}")
    assert not (tmp_path / "o" / "results.csv").exists()


def test_bf16_on_cpu_is_refused(registry, tmp_path, capsys):
    code = main(["run", _file(tmp_path, _pipeline(precision="bf16")), "--out", str(tmp_path / "o")])
    _one_line_error(capsys, code, "precision", "bf16", "CUDA")
    assert not (tmp_path / "o").exists()


def test_resume_may_change_the_executor_but_not_the_precision(registry, tmp_path, capsys):
    """How a run executes (executor, loader_workers) is not part of its results: --resume accepts a change."""
    import cellxai_core as cx

    cx.run(_pipeline(), out=tmp_path / "r")
    cx.run(_pipeline(loader_workers=0), out=tmp_path / "r", resume=True)
    code = main(["run", _file(tmp_path, _pipeline(precision="fp32")), "--out", str(tmp_path / "r"), "--resume"])
    _one_line_error(capsys, code, "different config", "precision")
