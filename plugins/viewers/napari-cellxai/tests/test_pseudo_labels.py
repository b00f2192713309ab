"""The Pseudo-labels layer: computed on demand by the run's own encoder, through npe2's reader API (no display)."""

from __future__ import annotations

import numpy as np
import pytest
from test_reader import by_name

npe2 = pytest.importorskip("npe2")


def direct_pseudo_labels(run, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The run's encoder rebuilt independently of the reader, and its pseudo-labels of sample ``index``; and the truth mask."""
    import torch

    from cellxai_core.config import load_config
    from cellxai_core.context import RunContext
    from cellxai_core.registry import get_registry

    registry = get_registry()
    cfg, params = load_config(run.config, registry=registry)
    ctx = RunContext.open(cfg, params, run.path, registry)
    sample = ctx.dataset[index]
    with torch.no_grad():
        labels = ctx.model().encoder.pseudo_labels(torch.from_numpy(sample.images))
    return labels.numpy(), np.asarray(sample.truth["mask"])


def test_a_unet_run_opens_with_its_encoders_pseudo_labels(unet_run) -> None:
    from cellxai_core import schema

    npe2.PluginManager.instance().discover()
    named = by_name(npe2.read([str(unet_run.path)], stack=False))
    data, kwargs, kind = named["Pseudo-labels"]
    n = len(unet_run.ids)
    assert kind == "labels" and data.shape == (n, 3, 64, 64) == named["Images"][0].shape[:4]  # (N, S, H, W) of the samples
    objects = [o["name"] for o in schema.objects(unet_run.store)]
    table = kwargs["features"]
    assert objects == ["cancer", "t_cell", "dead"] and list(table["object"]) == objects and list(table["label"]) == [1, 2, 3]
    assert list(table["name"]) == ["cancer cell", "T cell", "dead cell"] and kwargs["metadata"]["classes"] == ["background", *objects]
    both = np.asarray(data[[5, 9]].compute())  # two samples at once: dask's threads share one rebuilt model
    assert both.dtype == np.uint8 and both.min() >= 0 and both.max() <= len(objects)
    direct, mask = direct_pseudo_labels(unet_run, 9)
    assert np.array_equal(both[1], direct)  # what encoder.pseudo_labels gives on that sample
    assert set(np.unique(both[1]).tolist()) == {0, 1, 2, 3}  # every class and background present in this well
    for k in (1, 2, 3):  # and they are the cells: Dice with the planted masks of the synthetic well
        dice = 2 * ((both[1] == k) & (mask == k)).sum() / ((both[1] == k).sum() + (mask == k).sum())
        assert dice > 0.6, (k, dice)


def test_an_encoder_without_pseudo_labels_gives_no_layer_and_says_why(cluster_run, caplog) -> None:
    from napari_cellxai import read_run

    named = by_name(read_run(cluster_run.path))
    assert "Pseudo-labels" not in named and {"Images", "Cluster", "Samples"} <= set(named)
    assert "no Pseudo-labels layer" in caplog.text and "viewer-conv" in caplog.text and "object classes" in caplog.text


def test_opening_a_run_imports_no_torch(unet_run) -> None:
    """torch is imported by the first pseudo-labelled sample, not by opening the run (napari's start-up stays fast)."""
    import subprocess
    import sys

    code = ("import sys; from napari_cellxai import read_run; layers = read_run(sys.argv[1]); "
            "names = [k['name'] for _, k, _ in layers]; assert 'Pseudo-labels' in names, names; "
            "print('torch' in sys.modules); layers[names.index('Pseudo-labels')][0][0].compute(); print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, str(unet_run.path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False", "True"]


def test_only_the_encoders_weights_are_needed_and_a_run_without_weights_has_no_layer(unet_run, tmp_path, caplog) -> None:
    import shutil

    from safetensors.torch import load_file, save_file

    from napari_cellxai import read_run

    copy = tmp_path / "run"
    shutil.copytree(unet_run.path, copy)
    weights = load_file(str(copy / "model.safetensors"))
    assert any(k.startswith("fusion.") for k in weights)
    save_file({k: v for k, v in weights.items() if k.startswith("encoder.")}, str(copy / "model.safetensors"))
    named = by_name(read_run(copy))  # a fusion that no longer fits (or is gone) does not cost the pseudo-labels
    assert np.array_equal(named["Pseudo-labels"][0][9].compute(), direct_pseudo_labels(unet_run, 9)[0])
    save_file({k: v if v.ndim == 0 else v[:1] for k, v in weights.items() if k.startswith("encoder.")}, str(copy / "model.safetensors"))
    with pytest.raises(Exception, match="saved encoder weights do not fit the installed encoder 'unet'"):
        by_name(read_run(copy))["Pseudo-labels"][0][0].compute()
    (copy / "model.safetensors").unlink()
    named = by_name(read_run(copy))
    assert "Pseudo-labels" not in named and "Images" in named and "no model.safetensors" in caplog.text
