"""template-text on planted clusters whose right words are known."""

from __future__ import annotations

import numpy as np
import pytest

from cellxai_core.errors import ConfigError, DataError
from cellxai_text.text_explainer import TemplateTextExplainer

CELLS = ("cancer", "t_cell", "dead")
LEVELS = {"cancer": 0.2, "t_cell": 0.1, "dead": 0.05}

# Three response programs: killing (cancer falls, T and dead rise), escape (cancer rises),
# quiet (T cells fall, the rest flat). Slopes per day, in area-fraction units.
PLANS = [
    {"n": 20, "slopes": {"cancer": -0.03, "t_cell": 0.02, "dead": 0.01}, "levels": LEVELS},
    {"n": 20, "slopes": {"cancer": 0.03, "t_cell": 0.0, "dead": 0.0}, "levels": {**LEVELS, "cancer": 0.3}},
    {"n": 20, "slopes": {"cancer": 0.0, "t_cell": -0.015, "dead": 0.0}, "levels": {**LEVELS, "cancer": 0.1}},
]
EXPECTED_TRENDS = [
    {"cancer": "decreasing", "t_cell": "increasing", "dead": "increasing"},
    {"cancer": "increasing", "t_cell": "stable", "dead": "stable"},
    {"cancer": "stable", "t_cell": "decreasing", "dead": "stable"},
]


def words(attrs: dict, measure: str) -> list[dict[str, str]]:
    return [
        {s["cell_type"]: s["word"] for s in d["statements"] if s["measure"] == measure}
        for d in attrs["descriptions"]
    ]


def test_planted_trends_give_exactly_those_words(make_store, run_explainer):
    store = make_store(PLANS, noise_wells=7)
    attrs = run_explainer(store, "template-text", TemplateTextExplainer())
    assert words(attrs, "trend") == EXPECTED_TRENDS
    assert attrs["sources"]["density"] == "features/handcrafted"
    assert attrs["sources"]["density_columns"] == ["cancer_area", "t_cell_area", "dead_area"]
    assert attrs["cell_types"] == list(CELLS)
    text = store.read("explanations/template-text/text")
    assert text.shape == (3,)
    assert "The trend of T cells is increasing (" in str(text[0])
    assert "The trend of cancer cells is decreasing (" in str(text[0])
    assert "The trend of cancer cells is increasing (" in str(text[1])
    assert "The trend of dead cells is stable (" in str(text[2])


def test_noise_wells_get_no_text_and_clusters_are_listed(make_store, run_explainer):
    store = make_store(PLANS, noise_wells=9)
    attrs = run_explainer(store, "template-text", TemplateTextExplainer())
    assert store.read("explanations/template-text/clusters").tolist() == [0, 1, 2]
    assert attrs["clusters"] == [0, 1, 2]
    assert [d["n"] for d in attrs["descriptions"]] == [20, 20, 20]


def test_density_words_follow_the_percentile_rank(make_store, run_explainer):
    store = make_store(PLANS)
    attrs = run_explainer(store, "template-text", TemplateTextExplainer())
    cancer = [w["cancer"] for w in words(attrs, "density")]
    assert cancer == ["moderate", "high", "low"]  # levels 0.2, 0.3, 0.1
    ranks = [s["value"] for s in attrs["descriptions"][1]["statements"] if s["measure"] == "density"]
    assert all(0.0 <= r <= 1.0 for r in ranks)
    # the middle cluster's median is denser than its own lower half and the 20 sparse wells: rank ~ 0.5
    mid = next(s for s in attrs["descriptions"][0]["statements"] if s["measure"] == "density" and s["cell_type"] == "cancer")
    assert mid["value"] == pytest.approx(0.5, abs=0.05)


def test_density_thresholds_are_respected(make_store, run_explainer):
    store = make_store(PLANS)

    def cancer_density(attrs, k):
        return next(s for s in attrs["descriptions"][k]["statements"]
                    if s["measure"] == "density" and s["cell_type"] == "cancer")

    # the dense cluster's median well outranks 40 + 10 of 60 wells: rank 50/60
    for high, expected in [(0.8, "high"), (0.9, "moderate")]:
        attrs = run_explainer(store, "template-text", TemplateTextExplainer(density_high_quantile=high))
        assert cancer_density(attrs, 1)["value"] == pytest.approx(50 / 60, abs=1e-9)
        assert cancer_density(attrs, 1)["word"] == expected
        assert attrs["thresholds"]["density_high_quantile"] == high
    # the sparse cluster: rank 10/60
    for low, expected in [(0.2, "low"), (0.1, "moderate")]:
        attrs = run_explainer(store, "template-text", TemplateTextExplainer(density_low_quantile=low))
        assert cancer_density(attrs, 2)["value"] == pytest.approx(10 / 60, abs=1e-9)
        assert cancer_density(attrs, 2)["word"] == expected


def test_trend_threshold_is_relative_to_the_level_and_respected(make_store, run_explainer):
    # cancer rises by 0.002 per day over 4 steps at a level of 0.1: relative change 0.08
    plans = [
        {"n": 15, "slopes": {"cancer": 0.002, "t_cell": 0.0, "dead": 0.0}, "levels": {**LEVELS, "cancer": 0.1}},
        {"n": 15, "slopes": {"cancer": 0.0, "t_cell": 0.0, "dead": 0.0}, "levels": {**LEVELS, "cancer": 0.1}},
    ]
    store = make_store(plans)
    rel = None
    for threshold, expected in [(0.05, "increasing"), (0.1, "stable")]:
        attrs = run_explainer(store, "template-text", TemplateTextExplainer(trend_threshold=threshold))
        st = next(s for s in attrs["descriptions"][0]["statements"] if s["measure"] == "trend" and s["cell_type"] == "cancer")
        assert st["word"] == expected
        rel = st["value"]
    assert rel == pytest.approx(0.08, abs=0.01)
    # the same relative change at ten times the scale gives the same word and value
    scaled = [{**p, "levels": {k: 10 * v for k, v in p["levels"].items()},
               "slopes": {k: 10 * v for k, v in p["slopes"].items()}} for p in plans]
    attrs = run_explainer(make_store(scaled), "template-text", TemplateTextExplainer(trend_threshold=0.05))
    st = next(s for s in attrs["descriptions"][0]["statements"] if s["measure"] == "trend" and s["cell_type"] == "cancer")
    assert st["word"] == "increasing" and st["value"] == pytest.approx(rel, abs=0.01)
    assert st["median"] == pytest.approx(0.02, rel=0.1)  # the slope per day, in feature units
    # over 8 days instead of 4 steps' worth, half the daily slope is the same change: same word
    plans_long = [{**p, "slopes": {k: v / 2 for k, v in p["slopes"].items()}} for p in plans]
    attrs = run_explainer(make_store(plans_long, s=9), "template-text", TemplateTextExplainer(trend_threshold=0.05))
    st = next(s for s in attrs["descriptions"][0]["statements"] if s["measure"] == "trend" and s["cell_type"] == "cancer")
    assert st["word"] == "increasing" and st["value"] == pytest.approx(0.08, abs=0.01)


def test_comparison_names_the_most_distinctive_property(make_store, run_explainer):
    flat = {"cancer": 0.0, "t_cell": 0.0, "dead": 0.0}
    plans = [
        {"n": 15, "slopes": {**flat, "t_cell": 0.03}, "levels": LEVELS},  # T cells shoot up
        {"n": 15, "slopes": {**flat, "t_cell": 0.005}, "levels": LEVELS},
        {"n": 15, "slopes": {**flat, "cancer": -0.03}, "levels": LEVELS},  # cancer collapses
        {"n": 15, "slopes": flat, "levels": {**LEVELS, "dead": 0.25}},  # many dead cells
    ]
    store = make_store(plans)
    attrs = run_explainer(store, "template-text", TemplateTextExplainer())
    best = [(d["comparison"][0]["cell_type"], d["comparison"][0]["measure"], d["comparison"][0]["direction"])
            for d in attrs["descriptions"]]
    assert best[0] == ("t_cell", "trend", "highest")
    assert best[2] == ("cancer", "trend", "lowest")
    assert best[3] == ("dead", "density", "highest")
    text = store.read("explanations/template-text/text")
    assert str(text[0]).endswith("Compared with the other clusters, T cells increase fastest.")
    assert str(text[2]).endswith("Compared with the other clusters, cancer cells decrease fastest.")
    assert str(text[3]).endswith("Compared with the other clusters, dead cells are densest.")


def test_several_comparisons_are_joined(make_store, run_explainer):
    store = make_store(PLANS)
    attrs = run_explainer(store, "template-text", TemplateTextExplainer(comparisons=2))
    assert all(len(d["comparison"]) == 2 for d in attrs["descriptions"])
    scores = [abs(c["score"]) for c in attrs["descriptions"][0]["comparison"]]
    assert scores[0] >= scores[1] > 0
    assert ", and " in str(store.read("explanations/template-text/text")[0])


def test_a_single_cluster_has_no_comparison(make_store, run_explainer):
    store = make_store(PLANS[:1], noise_wells=5)
    attrs = run_explainer(store, "template-text", TemplateTextExplainer())
    assert attrs["descriptions"][0]["comparison"] == []
    assert "Compared" not in str(store.read("explanations/template-text/text")[0])


@pytest.mark.parametrize("slope_name", ["{cell}_area_slope", "{cell}_slope"])
def test_slope_columns_are_used_before_a_fitted_slope(make_store, run_explainer, slope_name):
    n = sum(p["n"] for p in PLANS)
    planted = np.zeros((n, 3))
    planted[:, 2] = -0.02  # every well says: dead cells fall, whatever their areas do
    store = make_store(PLANS, slope_columns=planted, slope_name=slope_name)
    attrs = run_explainer(store, "template-text", TemplateTextExplainer())
    assert attrs["sources"]["trend"].endswith(slope_name.format(cell="dead"))
    assert [w["dead"] for w in words(attrs, "trend")] == ["decreasing"] * 3
    assert [w["cancer"] for w in words(attrs, "trend")] == ["stable"] * 3


def test_auxiliary_heads_are_preferred_and_source_can_be_forced(make_store, run_explainer):
    n = sum(p["n"] for p in PLANS)
    aux = np.full((n, 5, 3), 0.2)
    aux_trend = np.zeros((n, 3))
    aux_trend[:, 0] = 0.05  # the trend head says cancer rises everywhere
    store = make_store(PLANS, aux=aux, aux_trend=aux_trend)
    attrs = run_explainer(store, "template-text", TemplateTextExplainer())
    assert attrs["sources"]["density"] == "features/aux/density"
    assert attrs["sources"]["trend"] == "features/aux/trend"
    assert [w["cancer"] for w in words(attrs, "trend")] == ["increasing"] * 3
    attrs = run_explainer(store, "template-text", TemplateTextExplainer(source="handcrafted"))
    assert words(attrs, "trend") == EXPECTED_TRENDS


def test_aux_density_without_trend_head_fits_the_slope(make_store, run_explainer):
    n = sum(p["n"] for p in PLANS)
    rising = 0.1 + 0.02 * np.arange(5)[None, :, None] * np.ones((n, 1, 3))
    store = make_store(PLANS, aux=rising)
    attrs = run_explainer(store, "template-text", TemplateTextExplainer(source="aux"))
    assert attrs["sources"]["trend"].startswith("slope fitted")
    assert words(attrs, "trend") == [{c: "increasing" for c in CELLS}] * 3


def test_cell_types_param_selects_and_orders(make_store, run_explainer):
    store = make_store(PLANS)
    attrs = run_explainer(store, "template-text", TemplateTextExplainer(cell_types=["dead", "cancer"]))
    assert list(words(attrs, "trend")[0]) == ["dead", "cancer"]
    with pytest.raises(DataError, match="macrophage"):
        TemplateTextExplainer(cell_types=["macrophage"]).explain(store, store.read("clusters/labels"))


def test_missing_density_features_is_a_data_error(blank_store):
    store = blank_store({
        "clusters/labels": (np.zeros(4, dtype=np.int32), {}),
        "features/handcrafted": (np.zeros((4, 2, 1), dtype=np.float32), {"names": ["brightness"]}),
    })
    with pytest.raises(DataError, match="cancer_area"):
        TemplateTextExplainer().explain(store, store.read("clusters/labels"))


# -- the template file ----------------------------------------------------------------------
def test_a_user_template_file_changes_the_text(make_store, run_explainer, tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text(
        "cell_types: {t_cell: CAR-T cells}\n"
        "words:\n  trend: {increasing: rising}\n"
        "sentences:\n  trend: 'Cluster {cluster}: {cell} are {word}.'\n"
        "order: [trend, comparison]\n"
    )
    store = make_store(PLANS)
    run_explainer(store, "template-text", TemplateTextExplainer(templates=user))
    text = str(store.read("explanations/template-text/text")[0])
    assert text.startswith("Cluster 0: cancer cells are decreasing. Cluster 0: CAR-T cells are rising.")
    assert "density" not in text  # dropped from order
    assert "Compared with the other clusters" in text  # default kept
    assert store.attrs("explanations/template-text")["templates"] == str(user)


@pytest.mark.parametrize(
    "content, match",
    [
        ("sentences: {trnd: x}\n", "unknown key 'sentences.trnd'"),
        ("sentences: {trend: 'The {cel} rises'}\n", "sentences.trend"),
        ("order: [trend, colour]\n", "order"),
        ("- a list\n", "mapping"),
        ("sentences: [\n", "not valid YAML"),
    ],
)
def test_bad_template_files_fail_with_the_file_and_key(tmp_path, content, match):
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    with pytest.raises(ConfigError, match=match) as info:
        TemplateTextExplainer(templates=bad)
    assert str(bad) in str(info.value)
    with pytest.raises(ConfigError, match="cannot read"):
        TemplateTextExplainer(templates=tmp_path / "absent.yaml")


def test_statements_carry_numbers_intervals_and_absent_classes():
    """Each statement states its number and a bootstrap interval; a class no well contains is said absent, not 'moderate'."""
    from cellxai_text.profiles import CellProfiles
    from cellxai_text.statements import Thresholds, describe_clusters
    from cellxai_text.templates import load_templates, render_description

    rng = np.random.default_rng(0)
    n = 40
    labels = np.repeat([0, 1], n // 2)
    density = np.stack([rng.uniform(0.1, 0.2, n), np.where(labels == 0, 0.0, rng.uniform(0.05, 0.1, n))], axis=1)
    trend = np.stack([np.where(labels == 0, 0.03, -0.03) + rng.normal(0, 0.005, n), np.where(labels == 0, 0.0, 0.01)], axis=1)
    profiles = CellProfiles(["cancer", "glia_x"], density, trend, density.mean(axis=0), set_size=5)
    desc = describe_clusters(profiles, labels, Thresholds())
    first = {(s["cell_type"], s["measure"]): s for s in desc[0]["statements"]}
    assert ("glia_x", "absent") in first and ("glia_x", "density") not in first and ("glia_x", "trend") not in first
    lo, hi = first[("cancer", "trend")]["ci"]
    assert lo < first[("cancer", "trend")]["value"] < hi and hi - lo < 0.5
    text = render_description(load_templates(), desc[0], {"glia_x": "glial cells"})
    assert "No glial cells were found in these wells." in text and "moderate" not in text.split("glial")[0][-40:]
    assert "The trend of cancer cells is increasing (+" in text and "95 % CI" in text
    other = render_description(load_templates(), desc[1], {"glia_x": "glial cells"})
    assert "The density of glial cells is" in other and "95 % CI" in other
