"""Can the explanations be trusted? The faithfulness measurements of the Grad-CAM maps, if made.

Stored by ``gradcam`` with ``faithfulness: true`` (attrs ``faithfulness`` of
``explanations/gradcam``, arrays under ``explanations/gradcam/faithfulness``) or by the
``faithfulness`` explainer / ``cellxai evaluate`` (``explanations/faithfulness``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cellxai_core import schema

from .draw import plt

FAITHFULNESS, GRADCAM = "faithfulness", "gradcam"


def _summary(store: Any) -> tuple[dict[str, Any], str] | None:
    """The summary and the group of its arrays: the faithfulness explainer's, else gradcam's inline one."""
    own = schema.explanation(FAITHFULNESS)
    attrs = store.attrs(own) if store.has(schema.explanation(FAITHFULNESS, "indices")) else {}
    if attrs.get("deletion"):
        return attrs, own
    inline = store.attrs(schema.explanation(GRADCAM)).get("faithfulness") if store.has(schema.explanation(GRADCAM, "maps")) else None
    if inline:
        return inline, schema.explanation(GRADCAM, "faithfulness")
    return None


def _read(store: Any, path: str) -> np.ndarray | None:
    return store.read(path) if store.has(path) else None


def render(run: Any, sec: Any) -> None:
    """A verdict per check (threshold, paired test, pass / fail), then the deletion curves."""
    found = _summary(run.store)
    if found is None:
        sec.note("Faithfulness not measured: run `cellxai evaluate RUN_DIR` or set gradcam's faithfulness: true.")
        return
    summary, root = found
    verdicts = summary.get("verdicts")
    if not verdicts:
        sec.note("These faithfulness numbers were measured before verdicts existed: run `cellxai evaluate RUN_DIR` again.")
        return
    failed = [v["check"] for v in verdicts if v.get("passed") is False]
    sec.p(f"{len(verdicts) - len(failed)} of {len(verdicts)} checks pass on {summary.get('n_samples', '?')} samples "
          f"(seed {summary.get('seed', '?')}); " + (f"failed: {', '.join(failed)}." if failed else "none fails."))
    rows = [({True: "PASS", False: "FAIL"}.get(v.get("passed"), "n/a"), v["check"], v.get("value"),
             "—" if v.get("p") is None else f"{v['p']:.1e}", v.get("threshold", ""), v.get("why", "")) for v in verdicts]
    sec.table(["verdict", "check", "value", "p (paired Wilcoxon)", "threshold", "numbers"], rows, left=(0, 1, 4, 5))
    deletion = summary.get("deletion") or {}
    sec.p(f"Deleted pixels become {deletion.get('baseline', 'zero')}; the score is the softmax probability of the explained "
          f"target; side features {deletion.get('side_features') or 'none'}. Localisation uses "
          f"{(summary.get('localisation') or {}).get('mask', 'no masks')}.")
    curve, random_curve = _read(run.store, f"{root}/deletion_curve"), _read(run.store, f"{root}/random_curve")
    if curve is not None and random_curve is not None:
        sec.figure(_deletion_figure(curve, random_curve),
                   "Deletion curves: the explained score as the most salient pixels are removed (Grad-CAM order vs random order), mean over samples.")
    road = summary.get("road") or {}
    curves = {name: _read(run.store, f"{root}/{name}_prob") for name in ("road_morf", "random_road_morf", "road_lerf", "random_road_lerf")}
    empty = _read(run.store, f"{root}/empty")
    if empty is not None:  # samples whose maps are all empty have no pixel order: left out, as in the verdicts
        keep = ~empty.reshape(len(empty), -1).astype(bool).all(axis=1)
        curves = {k: None if c is None else c[keep] for k, c in curves.items()}
    if road.get("percentages") and curves["road_morf"] is not None and curves["random_road_morf"] is not None:
        sec.figure(_road_figure(road["percentages"], curves),
                   f"ROAD curves: the explained score as the most (MoRF) or least (LeRF) relevant pixels are removed and "
                   f"filled by noisy linear imputation (Grad-CAM order vs random order), mean over the "
                   f"{road.get('n_samples', '?')} samples with a non-empty map.")


def _deletion_figure(curve: np.ndarray, random_curve: np.ndarray):
    flat = lambda c: c.reshape(c.shape[0], -1, c.shape[-1]).mean(axis=1) if c.ndim > 2 else c  # noqa: E731
    a, b = flat(curve), flat(random_curve)
    x = np.linspace(0, 1, a.shape[-1])
    fig, ax = plt.subplots(figsize=(4.4, 3.0))
    ax.plot(x, a.mean(axis=0), lw=2, color="#d62728", label="Grad-CAM order")
    ax.plot(x, b.mean(axis=0), lw=2, color="#7f7f7f", ls="--", label="random order")
    return _finished(fig, ax, "fraction of pixels removed")


def _road_figure(percentages: list[float], curves: dict[str, np.ndarray | None]):
    fig, ax = plt.subplots(figsize=(4.4, 3.0))
    styles = {"road_morf": ("#d62728", "-", "o", "MoRF, Grad-CAM"), "random_road_morf": ("#d62728", ":", "s", "MoRF, random"),
              "road_lerf": ("#1f77b4", "-", "o", "LeRF, Grad-CAM"), "random_road_lerf": ("#1f77b4", "--", "^", "LeRF, random")}
    for name, (colour, style, marker, label) in styles.items():  # random MoRF and LeRF often coincide: distinct markers
        c = curves.get(name)
        if c is not None:
            ax.plot(percentages, np.nanmean(c, axis=0), color=colour, ls=style, lw=2, marker=marker, ms=4, label=label)
    return _finished(fig, ax, "% of pixels removed (imputed)")


def _finished(fig, ax, xlabel: str):
    """The perturbation curves' common axes: pixels removed against the explained target's score."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("score of the explained target")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
