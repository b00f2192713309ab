"""Issue #17's "How it is judged", checked on a small demo-like run (U-Net, temporal attention, Affinity
Propagation, Grad-CAM): napari layers through npe2, the manifest through npe2's own CLI, the .h5ad in scanpy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_reader import by_name

npe2 = pytest.importorskip("npe2")


def test_npe2_read_gives_images_gradcam_labels_and_one_row_per_sample(unet_run) -> None:
    npe2.PluginManager.instance().discover()
    layers = npe2.read([str(unet_run.path)], stack=False)
    kinds = [kind for _, _, kind in layers]
    named = by_name(layers)
    n = len(unet_run.ids)
    assert kinds.count("image") == 2 and kinds.count("labels") == 3  # Images, Grad-CAM; Pseudo-labels, Cluster, Samples
    assert named["Images"][2] == "image" and named["Grad-CAM"][2] == "image" and named["Pseudo-labels"][2] == "labels"
    maps = np.asarray(named["Grad-CAM"][0][3].compute())
    assert maps.shape == (3, 64, 64) and np.allclose(maps, unet_run.array("explanations/gradcam/maps")[3])
    table = named["Samples"][1]["features"]
    assert len(table) == n and list(table["cluster"]) == unet_run.labels.tolist()
    assert list(table["id"]) == [str(i) for i in unet_run.ids] and "cancer_area@day_1" in table


def test_npe2_validate_passes_on_the_manifest() -> None:
    npe2_cli = Path(sys.executable).parent / "npe2"
    if not npe2_cli.exists():
        pytest.skip("npe2's command line is not installed next to this Python")
    done = subprocess.run([str(npe2_cli), "validate", "napari-cellxai"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "valid" in done.stdout, done.stdout + done.stderr


def test_the_h5ad_loads_and_scanpy_and_scikit_learn_take_it(unet_run, tmp_path) -> None:
    ad = pytest.importorskip("anndata")
    sc = pytest.importorskip("scanpy")
    from sklearn.metrics import adjusted_rand_score

    from cellxai_core.cli import main

    if main(["export", str(unet_run.path), "--out", str(tmp_path / "run.h5ad")]) != 0:
        pytest.skip("cellxai export is not installed (cellxai-report)")
    adata = ad.read_h5ad(tmp_path / "run.h5ad")
    names = unet_run.store.attrs("features/handcrafted")["names"]
    assert list(adata.var_names) == [f"{name}@day_{t}" for t in (1, 2, 3) for name in names]  # the measured features
    assert adata.n_obs == len(unet_run.ids) and "cancer_area@day_1" in adata.var_names
    sc.tl.rank_genes_groups(adata, "cluster")
    assert adata.uns["rank_genes_groups"]["names"].shape[0] == len(adata.var_names)
    strings = [c for c in adata.obs if adata.obs[c].dtype == "category" or adata.obs[c].dtype == object]
    assert {"cluster", "Truth_program"} <= set(strings)
    for column in strings:
        assert all(type(v) is str for v in adata.obs[column].astype(object)), column  # no numpy StringDType
        score = adjusted_rand_score(adata.obs[column], adata.obs["cluster"])
        assert -1.0 <= score <= 1.0, column
    assert adjusted_rand_score(adata.obs["cluster"], adata.obs["cluster"]) == 1.0
