"""Can the explanations be trusted? The faithfulness measurements of the Grad-CAM maps, if made.

Stored by ``gradcam`` with ``faithfulness: true`` (attrs ``faithfulness`` of
``explanations/gradcam``, arrays under ``explanations/gradcam/faithfulness``) or by the
``faithfulness`` explainer / ``cellxai evaluate`` (``explanations/faithfulness``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .figures import plt
from .page import Section
from .source import ReportSource


def _summary(src: ReportSource) -> tuple[dict[str, Any], str] | None:
    attrs = src.attrs("explanations/faithfulness") if src.has("explanations/faithfulness/indices") else {}
    if attrs.get("deletion"):
        return attrs, "explanations/faithfulness"
    inline = src.attrs("explanations/gradcam").get("faithfulness") if src.has("explanations/gradcam/maps") else None
    if inline:
        return inline, "explanations/gradcam/faithfulness"
    return None


def trust(src: ReportSource) -> Section:
    sec = Section("trust", "Can the explanations be trusted?")
    head = src.attrs("explanations/gradcam").get("head") if src.has("explanations/gradcam/maps") else None
    if head and head.get("accuracy") is not None:
        sec.p(f"The Grad-CAM maps explain a linear head trained on the fused features to reproduce the clusters; it agrees "
              f"with the cluster labels for {head['accuracy']:.1%} of the samples (low agreement = maps explain something "
              "else than the clustering).")
    found = _summary(src)
    if found is None:
        return sec.note("Faithfulness not measured: run `cellxai evaluate RUN_DIR` or set gradcam's faithfulness: true.")
    summary, root = found
    rows = []
    deletion = summary.get("deletion") or {}
    if deletion:
        rows.append(("deletion AUC (most salient pixels removed first)", deletion.get("auc"),
                     f"random maps: {deletion.get('random_auc', float('nan')):.3f}; below random for "
                     f"{deletion.get('fraction_below_random', float('nan')):.0%} of samples — lower = the map points at what the model uses"))
    pointing = summary.get("pointing_game") or {}
    if pointing:
        rows.append(("Grad-CAM energy inside the cells", pointing.get("energy_inside"),
                     f"the cells cover {pointing.get('mask_area', float('nan')):.0%} of the image — energy well above that = maps point at cells"))
    rand = summary.get("randomization") or {}
    for stage, rho in (rand.get("spearman") or {}).items():
        rows.append((f"Spearman ρ after randomising {stage}", rho, "near 0 = the maps depend on the trained weights (sanity check passed)"))
    sec.table(["measure", "value", "how to read it"], rows, left=(0, 2))
    sec.p(f"Measured on {summary.get('n_samples', '?')} samples.")
    curve, random_curve = src.read(f"{root}/deletion_curve"), src.read(f"{root}/random_curve")
    if curve is not None and random_curve is not None:
        sec.figure(_deletion_figure(curve, random_curve),
                   "Deletion curves: the explained score as the most salient pixels are removed (Grad-CAM order vs random order), mean over samples.")
    return sec


def _deletion_figure(curve: np.ndarray, random_curve: np.ndarray):
    flat = lambda c: c.reshape(c.shape[0], -1, c.shape[-1]).mean(axis=1) if c.ndim > 2 else c  # noqa: E731
    a, b = flat(curve), flat(random_curve)
    x = np.linspace(0, 1, a.shape[-1])
    fig, ax = plt.subplots(figsize=(4.4, 3.0))
    ax.plot(x, a.mean(axis=0), lw=2, color="#d62728", label="Grad-CAM order")
    ax.plot(x, b.mean(axis=0), lw=2, color="#7f7f7f", ls="--", label="random order")
    ax.set_xlabel("fraction of pixels removed")
    ax.set_ylabel("score of the explained target")
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
