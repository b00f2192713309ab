"""The HTML report: what each task shows, what it says when something is missing, escaping."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest
import yaml

from cellxai_report import write_report
from cellxai_report.page import Section, render_page

IMG = re.compile(r'<img src="data:image/(?:png|jpeg);base64,([A-Za-z0-9+/=]+)"')


def decoded_images(html: str) -> list[np.ndarray]:
    import cv2

    assert html.count("<img ") == len(IMG.findall(html))  # every image is embedded
    out = []
    for data in IMG.findall(html):
        img = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
        assert img is not None and img.shape[0] > 20 and img.shape[1] > 20
        out.append(img)
    return out


def section(html: str, sid: str) -> str:
    start = html.index(f'<section id="{sid}">')
    return html[start:html.index("</section>", start)]


def captions(html: str) -> list[str]:
    return re.findall(r"<figcaption>([^<]*)</figcaption>", html)


def test_cluster_report_shows_clusters_explanations_and_provenance(cluster_run):
    html = (cluster_run.path / "report.html").read_text()  # written by the pipeline (report: true)
    labels = cluster_run.labels
    k = len(set(labels.tolist()))
    explainers = {e["name"] for e in cluster_run.config["explainers"]}
    images = decoded_images(html)
    caps = captions(html)
    assert len(images) == len(caps)

    overview = section(html, "overview")
    agreement = cluster_run.store.attrs("clusters")["truth_agreement"]
    assert f"{k} clusters from {len(labels)} wells" in overview
    assert f"ARI {agreement['ari']:.2f}" in overview
    assert "silhouette" in overview and "stability" in overview
    assert any("2-D, coloured by cluster" in c for c in caps)
    assert any("over the days" in c for c in caps)  # density per cell type per day

    truth = section(html, "truth")
    assert f"{agreement['ari']:.3f}" in truth
    program = cluster_run.array("samples/truth/program")
    first = sorted(set(labels.tolist()))[0]
    counts = [int(((labels == first) & (program == g)).sum()) for g in sorted(set(program.tolist()))]
    assert f'<td class="l">cluster {first}</td>' + "".join(f"<td>{c}</td>" for c in counts) in truth

    cards = section(html, "clusters")
    assert cards.count('class="card"') == k
    exemplars = cluster_run.array("clusters/exemplars")
    for i in exemplars:
        assert f"<td class=\"l\">{cluster_run.ids[i]}</td>" in cards  # each exemplar named in its card
    montages = [c for c in caps if c.startswith("The exemplar and")]
    assert len(montages) == k
    if "gradcam" in explainers:  # the gradcam plugin's maps, drawn under every card's samples
        assert all("Grad-CAM" in c for c in montages)
        assert "agrees with the cluster labels for" in section(html, "gradcam")
    if "template-text" in explainers:  # the text plugin's sentence opens each card
        for text in cluster_run.array("explanations/template-text/text"):
            assert f'<p class="explain">{text}</p>' in cards
        assert "trend threshold" in section(html, "template-text")
    if "gmean" in explainers:
        assert any(c.startswith("The typical well of each cluster") for c in captions(section(html, "gmean")))
    if "cluster-similarity" in explainers:
        sim = section(html, "cluster-similarity")
        mean = cluster_run.store.attrs("explanations/cluster-similarity")["inter_mean"]
        assert f"{mean:.3f}" in sim and "No cluster-similarity" not in sim
        assert "mean cosine similarity within" in cards

    if "gradcam" in explainers:
        faith = cluster_run.store.attrs("explanations/gradcam")["faithfulness"]
        trust = section(html, "trust")
        assert f"<td>{faith['deletion']['auc']:.3f}</td>" in trust and "Deletion curves" in trust

    prov = section(html, "provenance")
    for stage in cluster_run.stages:
        assert f"<td class=\"l\">{stage}</td>" in prov
    assert "report_plugin" in prov
    ids = re.findall(r'<section id="([^"]+)">', html)
    expected = ["overview", "cluster-number", "truth", "gmean", "clusters", "template-text", "cluster-similarity", "gradcam", "trust", "measurements", "provenance"]
    assert ids == [i for i in expected if i in ids] and {"overview", "truth", "clusters", "measurements", "provenance"} <= set(ids)  # registered order
    assert "cancer_area@day_1" in section(html, "measurements")  # the names of results.csv and run.h5ad
    assert yaml.safe_dump(cluster_run.config, sort_keys=False).splitlines()[0] in prov


def test_a_run_without_explainers_gets_notes_not_errors(bare_run):
    html = (write_report(bare_run.path)).read_text()
    notes = re.findall(r'<p class="note">([^<]*)</p>', html)
    assert any("No text explanations" in n for n in notes)
    assert any("No Grad-CAM maps" in n for n in notes)
    assert any("No cluster-similarity explainer" in n for n in notes)
    assert any("Faithfulness not measured" in n for n in notes)
    assert "silhouette" not in section(html, "overview")  # quality: false
    decoded_images(html)


def test_images_are_skipped_with_a_reason_when_the_dataset_cannot_be_rebuilt(bare_run, tmp_path):
    from cellxai_core.testing import use_plugins

    with use_plugins():  # an empty registry: the run's dataset plugin is gone (and every plugin's section)
        html = write_report(bare_run.path, out=tmp_path / "r.html").read_text()
    notes = re.findall(r'<p class="note">([^<]*)</p>', html)
    assert sum("Images not shown" in n and "report-wells" in n for n in notes) == 1
    assert section(html, "clusters").count('class="card"') == len(set(bare_run.labels.tolist()))
    assert re.findall(r'<section id="([^"]+)">', html) == ["overview", "truth", "clusters", "measurements", "provenance"]


def test_a_failing_own_section_becomes_a_note_and_the_rest_is_written(bare_run, tmp_path, monkeypatch):
    import cellxai_report.cluster as cluster

    def broken(src, sec):  # noqa: ANN001, ANN202
        raise ValueError("boom")

    monkeypatch.setattr(cluster, "truth_table", broken)
    html = write_report(bare_run.path, out=tmp_path / "r.html").read_text()
    assert "could not be made (ValueError: boom)" in section(html, "truth")
    assert section(html, "clusters").count('class="card"') == 2 and "Provenance" in html


def test_classify_report_shows_folds_roc_confusion_and_uncertain_samples(classify_run):
    html = (classify_run.path / "report.html").read_text()
    attrs = classify_run.store.attrs("predictions")
    decoded_images(html)
    perf = section(html, "performance")
    auc = attrs["metrics"]["auc_macro"]
    assert f"auc macro {auc['mean']:.3f} ± {auc['sd']:.3f}" in perf
    for fold in range(attrs["folds"]):
        assert f"<td class=\"l\">fold {fold + 1}</td>" in perf
    assert perf.count(" ± ") >= len(attrs["metric_names"])
    assert "ROC curves" in perf and "Confusion matrix" in perf

    unc = section(html, "uncertain")
    entropy = classify_run.array("predictions/uncertainty/entropy")
    rows = re.findall(r"<tr><td class=\"l\">(cell\d+)</td>", unc)
    assert len(rows) == 8
    ranked = [float(entropy[list(classify_run.ids).index(r)]) for r in rows]
    assert ranked == sorted(ranked, reverse=True) and ranked[0] == pytest.approx(entropy.max(), abs=1e-6)
    assert "MC-dropout predictive entropy" in unc

    explainers = {e["name"] for e in classify_run.config["explainers"]}
    examples = section(html, "examples")
    assert "most confidently and correctly classified" in examples
    if "gmean" in explainers:
        gmean = section(html, "gmean")
        ratios = classify_run.store.attrs("explanations/gmean")["ratios"]
        for name, r in ratios.items():
            assert f"<td class=\"l\">{name}</td><td>{r['positive']:.3f}</td>" in gmean
    if "gradcam" in explainers:
        assert "Grad-CAM overlay" in examples and "Grad-CAM" in unc
    assert "Clusters at a glance" not in html


def test_values_from_the_run_are_escaped():
    sec = Section("s", "<title>")
    sec.p("<script>alert(1)</script>").table(["<b>"], [["<i>x</i>"]]).kv([("a&b", "<c>")])
    html = render_page("t<", ["sub>"], [sec], "f&")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<i>x</i>" not in html and "<b>" not in html.replace("<body>", "")
