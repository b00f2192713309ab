"""The pipeline end to end with small real components: layout, determinism, resume."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import cellxai_core as cx
import core_plugin

RUNNER = Path(__file__).parent / "runner.py"
EXPECTED = [
    "clusters/embedding", "clusters/exemplars", "clusters/labels", "explanations/test-sizes/sizes",
    "features/fused", "features/handcrafted", "features/tokens", "samples/id",
    "samples/meta/plate", "samples/meta/row", "samples/truth/program",
]


def _arrays(run):
    return {p: run.store.read(p) for p in run.store.tree() if not p.startswith("progress/")}


def test_run_writes_the_documented_run_directory(registry, tmp_path):
    run = cx.run(core_plugin.PIPELINE, out=tmp_path / "r")
    assert {p.name for p in (tmp_path / "r").iterdir()} == {"config.yaml", "store.zarr", "results.csv"}
    assert [p for p in run.store.tree() if not p.startswith("progress/")] == EXPECTED
    n = core_plugin.PIPELINE["dataset"]["params"]["n"]
    assert run.array("features/tokens").shape == (n, 3, 8) and run.array("features/tokens").dtype == np.float32
    assert run.array("features/fused").shape == (n, 2 * 8 + 2)
    assert run.store.attrs("features/handcrafted")["names"] == ["a_mean", "b_mean"]
    assert run.array("clusters/labels").dtype == np.int32
    assert run.array("clusters/embedding").shape == (n, 2)
    assert run.array("clusters/exemplars").dtype == np.int64
    attrs = run.store.attrs("clusters")
    assert attrs["truth_agreement"]["ari"] == pytest.approx(1.0)  # grow vs shrink is separable
    assert run.store.attrs("clusters/exemplars")["method"] == "test-kmeans"
    root = run.store.attrs()
    assert root["status"] == "complete" and root["config"]["encoder"]["params"]["width"] == 8
    assert set(root["stages"]) == {"load", "pretrain", "encode", "fuse", "cluster", "explain:test-sizes"}
    assert np.array_equal(run.array("explanations/test-sizes/sizes"), np.bincount(run.labels))
    config = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert config["seed"] == 0 and config["device"] == "cpu" and config["plugins"] == {"core_plugin": "0+local", "cellxai-cluster": "0.1.0"}
    rows = run.results()
    assert len(rows) == n and list(rows.columns)[:5] == ["id", "Metadata_plate", "Metadata_row", "Truth_program", "cluster"]
    assert rows["cluster"].tolist() == run.labels.tolist()
    assert all(type(v) is str for v in rows["id"]) and all(type(v) is str for v in run.ids)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(run.array("samples/truth/program"), rows["Truth_program"]) == 1.0  # str columns work
    assert not (tmp_path / "r" / "store.zarr" / "_partial").exists()


def test_fuse_resumed_after_its_weights_were_saved_trains_from_the_initial_fusion(tmp_path):
    """SIGKILL between fuse saving model.safetensors and publishing its arrays: the resumed fuse starts over."""
    import shutil

    import fitting_plugin

    from cellxai_core.store import RunStore
    from cellxai_core.testing import use_plugins

    pipeline = {**core_plugin.PIPELINE, "fusion": {"name": "test-step"}}
    with use_plugins(core_plugin, fitting_plugin, installed=True):
        done = cx.run(pipeline, out=tmp_path / "a")
        shutil.copytree(tmp_path / "a", tmp_path / "b")
        killed = RunStore(tmp_path / "b" / "store.zarr")
        for stage in ("fuse", "cluster", "explain:test-sizes"):
            killed.set_stage(stage, "running")  # model.safetensors already holds the fitted fusion
        resumed = cx.run(pipeline, out=tmp_path / "b", resume=True)
    assert done.store.attrs("features/fused")["metrics"] == {"weight": 2.0}
    assert resumed.store.attrs("features/fused")["metrics"] == {"weight": 2.0}  # not 3.0: fitted once, from the start
    assert np.array_equal(done.array("features/fused"), resumed.array("features/fused"))


def test_same_seed_same_results_and_different_seed_differs(registry, tmp_path):
    a = _arrays(cx.run(core_plugin.PIPELINE, out=tmp_path / "a"))
    b = _arrays(cx.run(core_plugin.PIPELINE, out=tmp_path / "b"))
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key]), key
    c = _arrays(cx.run(core_plugin.PIPELINE, out=tmp_path / "c", overrides={"seed": 1}))
    assert not np.array_equal(a["features/tokens"], c["features/tokens"])


def test_sigkill_during_encode_then_resume_equals_clean_run(registry, tmp_path):
    config = dict(core_plugin.PIPELINE)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(config))
    clean = _arrays(cx.run(path, out=tmp_path / "clean", overrides={"encoder.params.delay": 0.0}))

    slow = ["--set", "encoder.params.delay=0.15"]
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(RUNNER), "-q", "run", str(path), "--out", str(out), *slow],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    progress = out / "store.zarr" / "progress" / "encode" / "c"
    deadline = time.time() + 120
    while time.time() < deadline and not (progress.exists() and len(list(progress.iterdir())) >= 1):
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "results.csv").exists()
    with pytest.raises(cx.UserError, match="not complete"):
        cx.open_run(out)
    done_before = len(list(progress.iterdir()))
    assert 1 <= done_before < 3  # killed part-way through the 3 chunks of encode

    result = subprocess.run([sys.executable, str(RUNNER), "-q", "run", str(path), "--out", str(out), "--resume", *slow],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    resumed = _arrays(cx.open_run(out))
    assert resumed.keys() == clean.keys()
    for key in clean:
        assert np.array_equal(resumed[key], clean[key]), key


def test_cuda_without_cuda_is_a_user_error_before_anything_is_written(registry, tmp_path):
    if _cuda():
        pytest.skip("this machine has CUDA")
    with pytest.raises(cx.UserError, match="CUDA is not available"):
        cx.run(core_plugin.PIPELINE, out=tmp_path / "r", overrides={"device": "cuda:3"})
    assert not (tmp_path / "r").exists()


def test_failing_stage_marks_the_run_failed(registry, tmp_path):
    with pytest.raises(ValueError, match="n_clusters"):  # scikit-learn's k-means: more clusters than samples
        cx.run(core_plugin.PIPELINE, out=tmp_path / "r", overrides={"clusterer.params.n_clusters": 50})
    from cellxai_core.store import RunStore

    assert RunStore(tmp_path / "r" / "store.zarr").attrs()["status"] == "failed"
    assert not (tmp_path / "r" / "results.csv").exists()
    with pytest.raises(cx.UserError, match="run is failed"):
        cx.open_run(tmp_path / "r")


def _cuda():
    import torch

    return torch.cuda.is_available()


def test_api_load_component_and_dataset(registry):
    ds = cx.load_dataset("test-blobs", n=4, seed=3)
    assert len(ds) == 4 and ds[1].truth["program"] == "shrink"
    enc = cx.load_component("encoder", "test-conv", width=5, in_channels=2)
    import torch

    assert enc(torch.zeros(2, 2, 16, 16)).shape == (2, 5)
    with pytest.raises(cx.ConfigError, match="unknown parameter 'wdth'"):
        cx.load_component("encoder", "test-conv", wdth=5, in_channels=2)


def test_threads_setting_is_applied_and_recorded(registry, tmp_path):
    import torch

    before = torch.get_num_threads()
    try:
        run = cx.run(core_plugin.PIPELINE, out=tmp_path / "t", overrides=["threads=1"])
        assert torch.get_num_threads() == 1
        assert run.store.attrs()["threads_used"] == 1
        assert run.config["threads"] == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(cx.ConfigError, match="threads"):
        cx.run(core_plugin.PIPELINE, out=tmp_path / "u", overrides=["threads=0"])
