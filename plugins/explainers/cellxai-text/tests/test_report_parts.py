"""What this plugin adds to the report and results.csv, read back from its own explainers' results."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

import cellxai_text.plugin as plugin
from cellxai_core.testing import use_plugins
from cellxai_text import report
from cellxai_text.similarity import ClusterSimilarityExplainer
from cellxai_text.text_explainer import TemplateTextExplainer

LEVELS = {"cancer": 0.2, "t_cell": 0.1, "dead": 0.05}
PLANS = [
    {"n": 12, "slopes": {"cancer": -0.03, "t_cell": 0.02, "dead": 0.01}, "levels": LEVELS},
    {"n": 9, "slopes": {"cancer": 0.03, "t_cell": 0.0, "dead": 0.0}, "levels": {**LEVELS, "cancer": 0.3}},
]


class Section:
    """Records what a renderer puts in its section (the report's Section has the same methods)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def __getattr__(self, name: str):  # noqa: ANN204
        def record(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if name == "figure":
                import matplotlib.pyplot as plt

                plt.close(args[0])
            self.calls.append((name, args))
            return self

        return record

    def kinds(self) -> list[str]:
        return [name for name, _ in self.calls]


def opened(store) -> SimpleNamespace:  # noqa: ANN001
    labels = store.read("clusters/labels").astype(np.int64)
    return SimpleNamespace(store=store, labels=labels, ids=np.arange(len(labels)).astype(str), task="cluster")


def test_registers_two_sections_with_cards_and_the_explanation_column():
    with use_plugins(plugin) as reg:
        assert reg.names("section") == ["cluster-similarity", "template-text"]
        text = reg.get("section", "template-text")
        assert text.options["columns"] == "cellxai_text.report:explanation_column"
        assert text.options["tasks"] == ("cluster",) and text.load(text.options["cards"]) is report.card_text
        assert reg.get("section", "cluster-similarity").load() is report.render_similarity


def test_text_reaches_cards_and_each_sample_of_its_cluster(make_store, run_explainer):
    store = make_store(PLANS, noise_wells=3)
    attrs = run_explainer(store, "template-text", TemplateTextExplainer())
    run = opened(store)
    texts = dict(zip(attrs["clusters"], store.read("explanations/template-text/text").tolist()))
    assert {k: v["text"] for k, v in report.card_text(run).items()} == texts
    column = report.explanation_column(run)["explanation"]
    assert list(column) == [texts.get(int(k), "") for k in run.labels]
    assert column[-1] == "" and len(column) == sum(p["n"] for p in PLANS) + 3  # noise wells get no text
    section = Section()
    report.render_text(run, section)
    assert section.kinds() == ["p", "kv"]
    facts = dict(section.calls[1][1][0])
    assert facts["trend threshold"] == 0.1 and facts["source: density"] == "features/handcrafted"


def test_similarity_section_and_card_facts(make_store, run_explainer):
    store = make_store(PLANS)
    attrs = run_explainer(store, "cluster-similarity", ClusterSimilarityExplainer())
    run = opened(store)
    facts = report.card_similarity(run)
    assert sorted(facts) == [0, 1]
    assert facts[0]["facts"] == [("mean cosine similarity within", f"{attrs['intra_mean'][0]:.3f}")]
    section = Section()
    report.render_similarity(run, section)
    assert section.kinds() == ["p", "figure", "figure", "figure", "figure"]  # inter, intra bars, one matrix per cluster
    assert f"{attrs['inter_mean']:.3f}" in section.calls[0][1][0]


def test_without_its_results_it_says_so_and_adds_nothing(make_store):
    run = opened(make_store(PLANS))
    for render, words in ((report.render_text, "No text explanations"), (report.render_similarity, "No cluster-similarity")):
        section = Section()
        render(run, section)
        assert section.kinds() == ["note"] and words in section.calls[0][1][0]
    assert report.card_text(run) == {} and report.card_similarity(run) == {} and report.explanation_column(run) == {}
