"""The reader through npe2's own API, as napari calls it (no napari, no Qt): layers, laziness, features table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import viewer_plugin

npe2 = pytest.importorskip("npe2")


def by_name(layers: list) -> dict[str, tuple]:
    """Layer data by name; a multi-channel image layer is listed under each channel's name."""
    out = {}
    for data, kwargs, kind in layers:
        names = kwargs["name"] if isinstance(kwargs["name"], list) else [kwargs["name"]]
        for name in names:
            out[name] = (data, kwargs, kind)
    return out


def test_manifest_validates_and_is_discovered() -> None:
    import napari_cellxai

    manifest = npe2.PluginManifest.from_file(Path(napari_cellxai.__file__).parent / "napari.yaml")  # pydantic validation
    manifest.validate_imports()  # what `npe2 validate --imports` checks: every command's python_name imports
    assert manifest.name == "napari-cellxai" and manifest.contributions.readers[0].accepts_directories
    pm = npe2.PluginManager.instance()
    pm.discover()
    assert "napari-cellxai" in pm._manifests  # the napari.manifest entry point of the installed distribution


def test_cluster_run_opens_with_images_gradcam_labels_and_features(cluster_run) -> None:
    npe2.PluginManager.instance().discover()  # napari does this at start-up; npe2.read alone does not
    layers = npe2.read([str(cluster_run.path)], stack=False)  # found by npe2's matching of directories
    named = by_name(layers)
    n = len(cluster_run.ids)
    images, kwargs, kind = named["Images"]
    assert kind == "image" and kwargs["rgb"] and images.shape == (n, 3, 48, 48, 3)  # (N, S, H, W, RGB)
    one = np.asarray(images[4].compute())
    assert one.dtype == np.float32 and 0 <= one.min() and one.max() <= 1 and one.std() > 0
    if any(e["name"] == "gradcam" for e in cluster_run.config.get("explainers") or []):  # the gradcam plugin is installed
        maps, cam, kind = named["Grad-CAM"]
        assert kind == "image" and cam["colormap"] and maps.shape == (n, 3, 48, 48)
        assert np.allclose(maps[2].compute(), cluster_run.array("explanations/gradcam/maps")[2])
    clusters, ckw, kind = named["Cluster"]
    labels = cluster_run.labels
    assert kind == "labels" and clusters.shape == (n, 3, 48, 48)
    groups = sorted(set(labels.tolist()))
    assert int(clusters[5, 1, 10, 10].compute()) == groups.index(labels[5]) + 1
    assert list(ckw["features"]["cluster"]) == groups and ckw["features"]["n_samples"].sum() == n

    samples, skw, kind = named["Samples"]
    table = skw["features"]
    assert kind == "labels" and len(table) == n  # one row per sample, aligned to the painted label values
    assert list(table["label"]) == list(range(1, n + 1)) and int(samples[7, 0, 0, 0].compute()) == 8
    assert list(table["cluster"]) == labels.tolist() and list(table["id"]) == [str(i) for i in cluster_run.ids]
    assert np.allclose(table[["embedding_x", "embedding_y"]].to_numpy(), cluster_run.array("clusters/embedding"))
    side = cluster_run.array("features/handcrafted")
    assert np.allclose(table["channel1_mean@day_2"], side[:, 1, 1])  # the names of results.csv and run.h5ad
    assert list(table["Truth_program"]) == list(cluster_run.array("samples/truth/program"))


def test_opening_reads_no_images_and_a_multichannel_run_gives_one_layer_per_channel(classify_run) -> None:
    from napari_cellxai import read_run

    viewer_plugin.Spots.reads = 0
    layers = read_run(classify_run.path / "store.zarr")  # the store itself opens the run too
    assert viewer_plugin.Spots.reads == 0  # lazy: nothing read until a slice is shown
    named = by_name(layers)
    data, kwargs, kind = named["Images (a)"]
    assert kwargs["channel_axis"] == 2 and data.shape == (8, 2, 2, 16, 16) and kwargs["name"] == ["Images (a)", "Images (b)"]
    sample = np.asarray(data[3].compute())
    assert viewer_plugin.Spots.reads == 1
    assert np.allclose(sample, viewer_plugin.Spots(8, 16)[3].images)
    assert "Grad-CAM" not in named  # gradcam did not run: no layer, no error
    classes, ckw, _ = named["Predicted class"]
    assert list(ckw["features"]["class"]) == ["dim", "bright"]
    table = named["Samples"][1]["features"]
    proba = classify_run.array("predictions/proba")
    assert list(table["class"]) == [["dim", "bright"][k] for k in proba.argmax(axis=1)]
    assert np.allclose(table["proba_bright"], proba[:, 1]) and "Metadata_well" in table


def test_a_run_whose_dataset_is_gone_still_opens_without_images(classify_run, caplog) -> None:
    from cellxai_core.testing import use_plugins
    from napari_cellxai import read_run

    with use_plugins():  # an empty registry: the dataset's plugin is not installed
        named = by_name(read_run(classify_run.path))
    assert not any(n.startswith("Images") for n in named) and {"Predicted class", "Samples"} <= set(named)
    assert "images not shown" in caplog.text and "viewer-spots" in caplog.text


def test_only_run_directories_get_the_reader(tmp_path, cluster_run) -> None:
    from napari_cellxai import get_reader

    assert get_reader(str(tmp_path)) is None and get_reader(str(tmp_path / "x.tif")) is None
    assert get_reader([str(cluster_run.path), str(cluster_run.path)]) is None  # a stack of runs is not one run
    assert get_reader(str(cluster_run.path)) is not None and get_reader([cluster_run.path]) is not None
