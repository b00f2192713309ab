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
    assert list(adata.obs["truth_program"].astype(str)) == list(cluster_run.array("samples/truth/program"))
    assert list(adata.obs["Metadata_well"]) == list(cluster_run.array("samples/meta/well"))
    fused = cluster_run.features
    assert np.array_equal(adata.obsm["X_fused"], fused) and np.array_equal(adata.X, fused)
    assert np.array_equal(adata.obsm["X_embedding"], cluster_run.array("clusters/embedding"))
    side = cluster_run.array("features/handcrafted")
    assert adata.obsm["handcrafted"].shape == (len(side), side.shape[1] * side.shape[2])
    assert len(adata.uns["handcrafted_names"]) == side.shape[1] * side.shape[2]
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
    assert "X_embedding" not in adata.obsm and adata.X.shape == classify_run.features.shape
    assert adata.uns["predictions"]["metrics"]["auc_macro"]["mean"] == pytest.approx(
        classify_run.store.attrs("predictions")["metrics"]["auc_macro"]["mean"])


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
