"""gradcam resumes per chunk: a run killed during gradcam and resumed equals an uninterrupted run.

The run is small but real (the pipeline with the components registered below); the
killed run is this file loaded in a fresh interpreter, each grad_cam call slowed down.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import cellxai_core as cx
from cellxai_core import Sample, hookimpl
from cellxai_core.pipeline import explain_run
from cellxai_core.testing import use_plugins

sys.path.insert(0, str(Path(__file__).parent))  # also where the killed run's interpreter loads this file
from disc_components import disc_sample, make_conv, make_kmeans, make_mean  # noqa: E402, F401 (registered below)

N, BATCH = 32, 8  # gradcam works in 4 chunks of 8 samples
CONFIG = {
    "seed": 0, "device": "cpu", "task": "cluster", "batch_size": 8, "quality": False,
    "dataset": {"name": "resume-discs"}, "encoder": {"name": "resume-conv"},
    "fusion": {"name": "resume-mean"}, "clusterer": {"name": "resume-kmeans"},
    "explainers": [{"name": "gradcam", "params": {"batch_size": BATCH}}],
}
PROGRESS = ("store.zarr", "progress", "explain.gradcam", "c")


class Discs:
    """S=2 two-channel 16 px images with a bright disc in channel ``i % 2``."""

    channels, set_axis, set_size, image_size, truth_keys = ("a", "b"), "time", 2, (16, 16), ("program",)

    def __len__(self) -> int:
        return N

    def __getitem__(self, i: int) -> Sample:
        return disc_sample(i)


@hookimpl
def cellxai_datasets(register):
    register("resume-discs", summary="Discs in channel a or b.", target=f"{__name__}:Discs")


@hookimpl
def cellxai_encoders(register):
    register("resume-conv", summary="Two convs, mean pooled.", target=f"{__name__}:make_conv")


@hookimpl
def cellxai_fusions(register):
    register("resume-mean", summary="Mean over the set.", target=f"{__name__}:make_mean")


@hookimpl
def cellxai_clusterers(register):
    register("resume-kmeans", summary="k-means, k=2.", target=f"{__name__}:make_kmeans")


def _count_grad_cam(monkeypatch, fail_after: int | None = None) -> list[int]:
    """Wrap the explainer's grad_cam: record each call's batch size (and interrupt after ``fail_after`` calls)."""
    import cellxai_gradcam.gradcam_explainer as module

    calls: list[int] = []
    real = module.grad_cam

    def counted(model, layer, x, *args, **kwargs):
        if fail_after is not None and len(calls) == fail_after:
            raise KeyboardInterrupt
        calls.append(len(x))
        return real(model, layer, x, *args, **kwargs)

    monkeypatch.setattr(module, "grad_cam", counted)
    return calls


def _child(out: str, delay: float) -> None:
    """The run that gets killed (runs in a subprocess): every grad_cam call sleeps ``delay`` first."""
    import torch

    import cellxai_gradcam.gradcam_explainer as module

    torch.set_num_threads(1)  # as the tests' own runs: the same numbers
    real = module.grad_cam
    module.grad_cam = lambda *a, **k: (time.sleep(delay), real(*a, **k))[1]
    with use_plugins(sys.modules[__name__], installed=True):
        cx.run(CONFIG, out=out)


def _gradcam(run) -> tuple[dict, dict]:
    arrays = {p: run.store.read(p) for p in run.store.tree() if p.startswith("explanations/gradcam/")}
    return arrays, run.store.attrs("explanations/gradcam")


@pytest.fixture
def clean(tmp_path, monkeypatch):
    with use_plugins(sys.modules[__name__], installed=True):
        calls = _count_grad_cam(monkeypatch)
        run = cx.run(CONFIG, out=tmp_path / "clean")
        monkeypatch.undo()
    assert calls == [BATCH] * (N // BATCH)
    return _gradcam(run)


def test_sigkill_during_gradcam_then_resume_skips_finished_chunks(clean, tmp_path, monkeypatch):
    out = tmp_path / "killed"
    code = (
        "import importlib.util, sys; "
        f"spec = importlib.util.spec_from_file_location('gradcam_resume_child', {__file__!r}); "
        "m = importlib.util.module_from_spec(spec); sys.modules[spec.name] = m; spec.loader.exec_module(m); "
        f"m._child({str(out)!r}, 0.5)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    progress = out.joinpath(*PROGRESS)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (progress.exists() and any(progress.iterdir())):
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(progress.iterdir()))
    assert 1 <= done_before < N // BATCH  # killed part-way through gradcam
    assert (out / "store.zarr" / "_partial" / "explain.gradcam").exists()

    with use_plugins(sys.modules[__name__], installed=True):
        calls = _count_grad_cam(monkeypatch)
        run = cx.run(CONFIG, out=out, resume=True)
    assert calls == [BATCH] * (N // BATCH - done_before)  # the finished chunks were not explained again
    assert not progress.parent.exists()
    arrays, attrs = _gradcam(run)
    clean_arrays, clean_attrs = clean
    assert sorted(arrays) == sorted(clean_arrays) and "explanations/gradcam/head_weight" in arrays
    for key in clean_arrays:
        np.testing.assert_array_equal(arrays[key], clean_arrays[key], err_msg=key)
    assert attrs == clean_attrs  # empty_maps_fraction, mean_target_prob and the head's metrics too
    assert 0 < attrs["mean_target_prob"] <= 1 and attrs["head"]["n_train"] == N


def test_partial_work_of_other_params_is_not_resumed(clean, tmp_path, monkeypatch):
    out = tmp_path / "run"
    with use_plugins(sys.modules[__name__], installed=True):
        cx.run(CONFIG, out=out)
        calls = _count_grad_cam(monkeypatch, fail_after=2)
        with pytest.raises(KeyboardInterrupt):  # `cellxai explain` with another layer, interrupted
            explain_run(out, "gradcam", {"batch_size": BATCH, "layer": "encoder.conv1"})
        assert len(list(out.joinpath(*PROGRESS).iterdir())) == 2
        monkeypatch.undo()
        calls = _count_grad_cam(monkeypatch)
        run = cx.run(CONFIG, out=out, resume=True)  # the pipeline's own gradcam: starts over
    assert calls == [BATCH] * (N // BATCH)
    arrays, attrs = _gradcam(run)
    for key in clean[0]:
        np.testing.assert_array_equal(arrays[key], clean[0][key], err_msg=key)
    assert attrs == clean[1]
