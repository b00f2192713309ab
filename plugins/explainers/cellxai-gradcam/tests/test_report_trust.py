"""The trust section shows the ROAD and sensitivity verdicts and draws the ROAD curves."""

from __future__ import annotations

from types import SimpleNamespace

from cellxai_gradcam.evaluate import FaithfulnessExplainer
from cellxai_gradcam.gradcam_explainer import GradCAMExplainer
from cellxai_gradcam.report import trust


class Section:
    def __init__(self) -> None:
        self.tables, self.captions = [], []

    def figure(self, fig, caption):  # noqa: ANN001, ANN201
        import matplotlib.pyplot as plt

        plt.close(fig)
        self.captions.append(caption)

    def table(self, header, rows, **_):  # noqa: ANN001, ANN201
        self.tables.append(rows)

    def __getattr__(self, name):  # noqa: ANN001, ANN204
        return lambda *a, **k: None


def test_trust_section_has_road_and_sensitivity_rows_and_the_road_curves(make_run, explain):
    ctx = make_run("cluster", n=16)
    explain(ctx, "gradcam", GradCAMExplainer())
    explain(ctx, "faithfulness", FaithfulnessExplainer(n_samples=8, deletion_steps=4, randomization=False,
                                                       road_percentages=[20, 60], sensitivity_samples=1))
    section = Section()
    trust.render(SimpleNamespace(store=ctx.store, task="cluster"), section)
    checks = {row[1]: row[0] for row in section.tables[0]}
    assert {"ROAD MoRF below random maps", "ROAD LeRF above random maps", "average sensitivity below another sample's"} <= set(checks)
    assert all(v in ("PASS", "FAIL", "n/a") for v in checks.values())
    assert len(section.captions) == 2 and section.captions[1].startswith("ROAD curves") and "8 samples" in section.captions[1]
