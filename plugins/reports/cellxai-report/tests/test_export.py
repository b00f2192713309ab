"""Exports: AnnData .h5ad for scanpy, results.csv for CellProfiler / pycytominer, and the CLI."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from cellxai_core.cli import main
from cellxai_report.export import export_anndata


def test_cluster_run_as_anndata(cluster_run, tmp_path):
    import anndata as ad

    path = export_anndata(cluster_run.path, tmp_path / "c.h5ad")
    adata = ad.read_h5ad(path)
    labels = cluster_run.labels
    assert list(adata.obs_names) == [str(i) for i in cluster_run.ids]
    assert list(adata.obs["cluster"].astype(str)) == [str(k) for k in labels]
    assert list(adata.obs["Truth_program"].astype(str)) == list(cluster_run.array("samples/truth/program"))
    assert list(adata.obs["Metadata_well"]) == list(cluster_run.array("samples/meta/well"))
    assert adata.obs["Metadata_well"].dtype == "category"
    fused = cluster_run.features
    assert np.array_equal(adata.obsm["X_fused"], fused)
    assert np.array_equal(adata.obsm["X_embedding"], cluster_run.array("clusters/embedding"))
    side = cluster_run.array("features/handcrafted")  # (N, 4 days, [t_cell_area, cancer_area])
    assert adata.X.shape == (len(side), side.shape[1] * side.shape[2])
    assert list(adata.var_names[:3]) == ["t_cell_area@day_1", "cancer_area@day_1", "t_cell_area@day_2"]
    assert np.array_equal(adata[:, "cancer_area@day_3"].X.ravel(), side[:, 2, 1])
    assert list(adata.var["measurement"][:2]) == ["t_cell_area", "cancer_area"] and adata.var["set_position"].iloc[-1] == "day 4"
    assert adata.uns["X_source"].startswith("features/handcrafted")
    assert json.loads(adata.uns["config"]) == cluster_run.config
    assert len(adata.uns["cluster_colors"]) == len(adata.obs["cluster"].cat.categories)
    assert adata.uns["clusters"]["n_clusters"] == cluster_run.store.attrs("clusters")["n_clusters"]
    if cluster_run.store.has("explanations/template-text/text"):
        texts = dict(zip(cluster_run.array("explanations/template-text/clusters").tolist(), cluster_run.array("explanations/template-text/text")))
        assert list(adata.obs["explanation"]) == [texts[k] for k in labels.tolist()]


def test_classify_run_as_anndata(classify_run, tmp_path):
    import anndata as ad

    adata = ad.read_h5ad(export_anndata(classify_run.path, tmp_path / "k.h5ad"))
    proba = classify_run.array("predictions/proba")
    classes = classify_run.store.attrs("predictions")["classes"]
    assert list(adata.obs["class"].cat.categories) == classes
    assert list(adata.obs["class"]) == [classes[i] for i in proba.argmax(axis=1)]
    for j, name in enumerate(classes):
        assert np.allclose(adata.obs[f"proba_{name}"], proba[:, j])
    assert np.array_equal(adata.obs["fold"], classify_run.array("predictions/fold"))
    assert "X_embedding" not in adata.obsm and np.array_equal(adata.X, classify_run.features)  # no measurements: X falls back
    assert list(adata.var_names[:2]) == ["fused_0", "fused_1"] and "no named measured features" in adata.uns["X_source"]
    assert list(adata.obs["Truth_class"].astype(str)) == list(classify_run.array("samples/truth/class"))
    assert adata.uns["predictions"]["metrics"]["auc_macro"]["mean"] == pytest.approx(
        classify_run.store.attrs("predictions")["metrics"]["auc_macro"]["mean"])


def test_anndata_works_with_scanpy_and_scikit_learn(cluster_run, tmp_path):
    """scverse: rank_genes_groups names measured features; every text obs column is plain str, so ARS takes it."""
    import anndata as ad
    import scanpy as sc
    from sklearn.metrics import adjusted_rand_score

    adata = ad.read_h5ad(export_anndata(cluster_run.path, tmp_path / "c.h5ad"))
    sc.tl.rank_genes_groups(adata, "cluster")  # as a scanpy user calls it (t-test)
    top = {str(name) for row in adata.uns["rank_genes_groups"]["names"] for name in row}
    assert top <= set(adata.var_names) and any("cancer_area" in n for n in top)
    text = [c for c in adata.obs if adata.obs[c].dtype == "category" or adata.obs[c].dtype == object]
    assert {"cluster", "Truth_program", "Metadata_well"} <= set(text)
    for column in text:
        assert all(type(v) is str for v in adata.obs[column].astype(object)), column
        assert -1.0 <= adjusted_rand_score(adata.obs[column], adata.obs["Truth_program"]) <= 1.0
    assert len(adata.uns["cluster_colors"]) == len(adata.obs["cluster"].cat.categories)


def test_results_csv_has_the_measured_features_under_the_anndata_names(cluster_run, classify_run):
    """pycytominer: Metadata_* then features, one column per measurement and day, the names of the .h5ad's var."""
    from cellxai_report.export import build_anndata

    with open(cluster_run.path / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    adata = build_anndata(cluster_run.path)
    assert set(adata.var_names) <= set(rows[0]) and "Truth_program" in rows[0]
    for j, name in enumerate(adata.var_names):
        assert np.allclose([float(r[name]) for r in rows], adata.X[:, j], atol=1e-6)
    assert not set(adata.var_names) & set(adata.obs)
    with open(classify_run.path / "results.csv", newline="") as fh:
        header = next(csv.reader(fh))
    assert not any("@" in h or h.startswith("fused_") for h in header)  # nothing measured, nothing added


def test_measurement_names_are_stable_and_unique():
    from cellxai_report.measures import column_names, set_labels

    assert column_names(["a", "b"], ["day 1", "day 2"]) == ["a@day_1", "b@day_1", "a@day_2", "b@day_2"]
    assert column_names(["area"], ["cell"]) == ["area"]
    assert column_names(["a"], ["x y", "x  y"]) == ["a@x_y", "a@x_y.1"]
    assert set_labels({"set_labels": ["d1", "d2"]}, 2) == ["d1", "d2"] and set_labels({}, 2) == ["1", "2"]


def test_results_csv_follows_the_cellprofiler_metadata_convention(cluster_run, classify_run):
    """pycytominer treats ``Metadata_*`` columns as metadata: every dataset meta key must be one, unchanged."""
    for run in (cluster_run, classify_run):
        with open(run.path / "results.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        header = list(rows[0])
        meta = sorted(p.split("/", 2)[2] for p in run.store.tree() if p.startswith("samples/meta/"))
        assert sorted(h[len("Metadata_"):] for h in header if h.startswith("Metadata_")) == meta
        assert len(rows) == len(run.ids) and [r["id"] for r in rows] == [str(i) for i in run.ids]
        for key in meta:
            assert [r[f"Metadata_{key}"] for r in rows] == [str(v) for v in run.array(f"samples/meta/{key}")]
    assert "cluster" in header or "class" in header


def test_cli_report_and_export(cluster_run, tmp_path, capsys):
    (cluster_run.path / "report.html").unlink()
    assert main(["report", str(cluster_run.path)]) == 0
    assert "report.html" in capsys.readouterr().out and (cluster_run.path / "report.html").exists()
    out = tmp_path / "x.h5ad"
    assert main(["export", str(cluster_run.path), "--format", "anndata", "--out", str(out)]) == 0 and out.exists()
    assert main(["export", str(cluster_run.path), "--out", str(tmp_path / "x.csv")]) == 2
    assert "expected a file name ending in .h5ad" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "not a cellxai run directory" in capsys.readouterr().err
