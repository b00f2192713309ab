"""The microwell method through the real pipeline, small: 48 wells of 96 px."""

import numpy as np
import pytest

import cellxai_core as cx
from cellxai_core import schema
from cellxai_core.registry import get_registry


def _installed(kind: str, name: str) -> bool:
    return name in get_registry().names(kind)


@pytest.mark.skipif(
    not (_installed("clusterer", "affinity-propagation") and _installed("dataset", "synthetic-microwell")),
    reason="needs the cellxai-affinity plugin and the built-in synthetic-microwell dataset",
)
def test_microwell_pipeline_recovers_the_programs(tmp_path):
    from sklearn.metrics import adjusted_rand_score

    config = {
        "seed": 0, "device": "cpu", "task": "cluster", "quality": False,
        "dataset": {"name": "synthetic-microwell", "params": {"n_wells": 48, "size": 96}},
        "encoder": {"name": "unet", "params": {"base_channels": 4, "depth": 2, "iterations": 20, "batch_size": 8}},
        "fusion": {"name": "temporal-attention", "params": {"epochs": 150}},
        "clusterer": {"name": "affinity-propagation"},
    }
    run = cx.run(config, out=tmp_path / "run")
    truth = run.array("samples/truth/program")
    assert adjusted_rand_score(truth, run.labels) >= 0.9  # AP chose the number of clusters itself
    assert len(set(run.labels.tolist())) == 4
    names = run.store.attrs("features/handcrafted")["names"]
    assert names[:3] == ["cancer_area", "t_cell_area", "dead_area"]  # the microwell's own names, as before
    recorded = {o["name"]: o for o in schema.objects(run.store)}
    assert list(recorded) == ["cancer", "t_cell", "dead"] and recorded["t_cell"]["label"] == "T cell"
    assert run.store.attrs("features/aux/density")["names"] == ["cancer", "t_cell", "dead"]
    assert run.array("features/handcrafted").shape == (48, 5, len(names))
    density = run.array("features/aux/density")
    assert density.shape == (48, 5, 3)
    assert np.abs(density - run.array("features/handcrafted")[..., :3]).mean() < 0.01
    assert run.array("features/attention").shape == (48, 4, 5, 5)
    metrics = run.store.attrs().get("pretrain_metrics")
    assert metrics["pseudo_dc_cancer"] > 0.85 and metrics["pseudo_dc_t_cell"] > 0.85 and metrics["pseudo_dc_dead"] > 0.85
