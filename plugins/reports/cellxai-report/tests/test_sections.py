"""A third-party plugin's report section, card parts, maps and results.csv columns, and broken sections."""

from __future__ import annotations

import copy
import csv
import re

import pytest
import section_plugin
from report_plugin import BARE

import cellxai_core as cx
from cellxai_core.testing import use_plugins
from cellxai_report import write_report


def _section(html: str, sid: str) -> str:
    start = html.index(f'<section id="{sid}">')
    return html[start:html.index("</section>", start)]


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory):
    """A run made with the test section plugin installed, and ``report: true``."""
    import report_plugin

    cfg = copy.deepcopy(BARE)
    cfg["report"] = True
    with use_plugins(report_plugin, section_plugin, installed=True):
        return cx.run(cfg, out=tmp_path_factory.mktemp("runs") / "sections")


def test_a_plugin_section_is_rendered_in_its_order(plugin_run):
    html = (plugin_run.path / "report.html").read_text()
    own = _section(html, "test-sizes")
    sizes = section_plugin.sizes(plugin_run)
    assert f"Test plugin: {len(sizes)} clusters in {len(plugin_run.ids)} samples of task cluster." in own
    assert section_plugin.CAPTION in own and '<img src="data:image/png;base64,' in own
    ids = re.findall(r'<section id="([^"]+)">', html)
    assert ids.index("clusters") < ids.index("test-sizes") < ids.index("test-broken") < ids.index("provenance")
    assert "test-classify-only" not in ids and "Only for classify runs" not in html
    assert '<a href="#test-sizes">Cluster sizes (test plugin)</a>' in html


def test_its_columns_reach_results_csv_and_the_export(plugin_run):
    from cellxai_report.export import build_anndata

    with open(plugin_run.path / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    sizes = section_plugin.sizes(plugin_run)
    assert [int(r["test_cluster_size"]) for r in rows] == [sizes[int(k)] for k in plugin_run.labels]
    with use_plugins(section_plugin, installed=True):
        adata = build_anndata(plugin_run.path)
    assert list(adata.obs["test_cluster_size"]) == [sizes[int(k)] for k in plugin_run.labels]


def test_its_card_parts_and_maps_join_the_cluster_cards(plugin_run):
    cards = _section((plugin_run.path / "report.html").read_text(), "clusters")
    for k, n in section_plugin.sizes(plugin_run).items():
        assert f'<p class="explain">Test text of cluster {k}.</p>' in cards
        assert f'<th class="l">test size</th><td class="l">{n}</td>' in cards
    montages = [c for c in re.findall(r"<figcaption>([^<]*)</figcaption>", cards) if c.startswith("The exemplar")]
    assert montages and all("(Test map, each map scaled to its own maximum, colour bar" in c for c in montages)


def test_a_failing_or_missing_section_becomes_a_note(plugin_run):
    html = (plugin_run.path / "report.html").read_text()
    assert "could not be made (ValueError: boom)" in _section(html, "test-broken")
    missing = _section(html, "test-missing")
    assert "could not be made (PluginError:" in missing and "no_such_module_xyz" in missing
    assert "Provenance" in html and _section(html, "clusters").count('class="card"') == 2


def test_without_the_plugin_its_sections_are_gone(plugin_run, tmp_path):
    import report_plugin

    with use_plugins(report_plugin, installed=True):
        html = write_report(plugin_run.path, out=tmp_path / "r.html").read_text()
    assert 'id="test-sizes"' not in html and "Test map" not in html and "Test text" not in html
