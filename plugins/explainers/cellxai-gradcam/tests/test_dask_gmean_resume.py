"""gmean per chunk: an interrupted gmean resumes from its marked chunks' stored sums and ends with the arrays and
attrs of an uninterrupted one (bit for bit: the client adds the same chunk sums in the same order)."""

from __future__ import annotations

import numpy as np
import pytest

import cellxai_gradcam.gmean_explainer as module
from cellxai_gradcam.gmean_explainer import GmeanExplainer
from cellxai_gradcam.gradcam_explainer import GradCAMExplainer


def _gmean(ctx) -> tuple[dict, dict]:
    w = ctx.store.writer("explain:gmean", "explanations/gmean", keep_partial=True, made_by="the same params")
    GmeanExplainer(batch_size=3, weights="target_prob").run(ctx, w)
    w.commit()
    tree = [p for p in ctx.store.tree() if p.startswith("explanations/gmean/")]
    return {p: ctx.store.read(p) for p in tree}, ctx.store.attrs("explanations/gmean")


def _counted(monkeypatch, stop_at: int | None = None) -> list[int]:
    calls: list[int] = []
    real = module.gmean_chunk

    def chunk(ctx, c, batches):
        if stop_at is not None and len(calls) == stop_at:
            raise KeyboardInterrupt
        calls.append(c)
        return real(ctx, c, batches)

    monkeypatch.setattr(module, "gmean_chunk", chunk)
    return calls


def test_interrupted_gmean_resumes_from_its_chunks(make_run, explain, monkeypatch):
    ctx = make_run("cluster")
    ctx.config.chunk_size = 8  # 24 samples: 3 chunks
    explain(ctx, "gradcam", GradCAMExplainer())
    calls = _counted(monkeypatch)
    clean, clean_attrs = _gmean(ctx)
    assert calls == [0, 1, 2] and clean["explanations/gmean/count"].sum() == 23  # the noise sample is left out
    monkeypatch.undo()

    calls = _counted(monkeypatch, stop_at=2)
    with pytest.raises(KeyboardInterrupt):
        _gmean(ctx)
    assert ctx.store.read("progress/explain.gmean").tolist() == [True, True, False]
    monkeypatch.undo()
    calls = _counted(monkeypatch)
    resumed, attrs = _gmean(ctx)
    assert calls == [2]  # chunks 0 and 1 came from the stored sums
    assert sorted(resumed) == sorted(clean) and attrs == clean_attrs
    for path, value in clean.items():
        np.testing.assert_array_equal(resumed[path], value, err_msg=path)
    assert not ctx.store.has("progress/explain.gmean")
