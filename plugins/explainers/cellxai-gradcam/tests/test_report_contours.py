"""gradcam's ``contours`` option: the gradcam section's overlays get the object outlines, and the PNG changes."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np

from cellxai_gradcam.gradcam_explainer import GradCAMExplainer
from cellxai_gradcam.params import GradCAMParams
from cellxai_gradcam.report import maps
from cellxai_gradcam.report.draw import overlay


class Section:
    """Keeps each figure as PNG bytes."""

    def __init__(self) -> None:
        self.pngs: list[bytes] = []
        self.notes: list[str] = []

    def figure(self, fig, caption):  # noqa: ANN001, ANN201
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=60)
        plt.close(fig)
        self.pngs.append(buf.getvalue())
        self.caption = caption

    def note(self, text):  # noqa: ANN001, ANN201
        self.notes.append(text)

    def __getattr__(self, name):  # noqa: ANN001, ANN204 - p, kv, table: not looked at here
        return lambda *a, **k: None


def _run(ctx, contours: bool):  # noqa: ANN001, ANN202
    ds = ctx.dataset
    return SimpleNamespace(store=ctx.store, dataset=ds, task="cluster", ids=ctx.store.read("samples/id"),
                           images=lambda i: np.asarray(ds[int(i)].images),
                           config={"explainers": [{"name": "gradcam", "params": {"contours": contours}}]})


def test_overlay_draws_white_outlines_only_on_the_boundaries():
    rng = np.random.default_rng(0)
    rgb, cam = rng.uniform(size=(16, 16, 3)) * 0.5, rng.uniform(size=(16, 16)) * 0.5
    labels = np.zeros((16, 16), int)
    labels[4:10, 5:12] = 1
    plain, outlined = overlay(rgb, cam), overlay(rgb, cam, contours=labels)
    changed = np.any(plain != outlined, axis=-1)
    assert changed.sum() == 2 * 6 + 2 * 7 - 4  # the inner ring of the 6 x 7 object
    assert np.all(outlined[changed] == 1.0) and not changed[6, 8]


def test_contours_option_changes_the_drawn_png(make_run, explain, monkeypatch):
    ctx = make_run("cluster", n=8)
    explain(ctx, "gradcam", GradCAMExplainer())
    assert GradCAMParams().contours is False
    off = Section()
    maps.render(_run(ctx, False), off)
    assert off.pngs == []  # the default draws no extra figure

    on = Section()
    maps.render(_run(ctx, True), on)
    assert len(on.pngs) == 1 and "outlines" in on.caption and not on.notes

    real = maps.sample_contours
    monkeypatch.setattr(maps, "sample_contours", lambda run, idx: np.zeros_like(real(run, idx)))
    blank = Section()
    maps.render(_run(ctx, True), blank)
    assert len(blank.pngs) == 1 and blank.pngs[0] != on.pngs[0]  # the same figure without the outlines differs


def test_contours_without_truth_masks_say_so(make_run, explain):
    ctx = make_run("cluster", n=8)
    explain(ctx, "gradcam", GradCAMExplainer())
    run = _run(ctx, True)
    sample = run.dataset[0]
    run.dataset = [SimpleNamespace(truth={}, images=sample.images)] * len(ctx.dataset)
    section = Section()
    maps.render(run, section)
    assert section.pngs == [] and "no object masks" in section.notes[0]
    masks = maps.sample_contours(_run(ctx, True), [0, 3])
    assert masks.shape == (2, 2, 24, 24) and set(np.unique(masks)) == {0, 1}


def test_report_contours_follow_the_option(make_run):
    ctx = make_run("cluster", n=8)
    assert maps.report_contours(_run(ctx, False), [0, 1]) is None
    np.testing.assert_array_equal(maps.report_contours(_run(ctx, True), [1]), np.asarray(ctx.dataset[1].truth["mask"])[None])
