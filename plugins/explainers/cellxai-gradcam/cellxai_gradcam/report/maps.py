"""Grad-CAM maps in the report: drawn over the samples the report shows, and what they explain.

``sample_maps`` is registered as the ``maps`` option: the report asks for the maps of the
samples it shows (cluster cards, typical and uncertain samples) and overlays them.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from cellxai_core import schema

GRADCAM = "gradcam"


def sample_maps(run: Any, indices: Sequence[int]) -> np.ndarray | None:
    """(n, S, H, W) maps in [0, 1] of samples ``indices``, read row by row (the whole array can be large)."""
    path = schema.explanation(GRADCAM, "maps")
    if not run.store.has(path) or len(indices) == 0:
        return None
    arr = run.store.array(path)
    return np.stack([np.asarray(arr[int(i)], dtype=np.float32) for i in indices])


def render(run: Any, section: Any) -> None:
    """What the maps explain (the cluster head or the class), how well the head fits, where they are shown."""
    store = run.store
    if not store.has(schema.explanation(GRADCAM, "maps")):
        section.note("No Grad-CAM maps in this run (add the gradcam explainer): images shown without overlays.")
        return
    attrs = store.attrs(schema.explanation(GRADCAM))
    head = attrs.get("head") or {}
    if head.get("accuracy") is not None:
        section.p(f"The Grad-CAM maps explain a linear head trained on the fused features to reproduce the clusters; it agrees "
                  f"with the cluster labels for {head['accuracy']:.1%} of the samples (low agreement = maps explain something "
                  "else than the clustering).")
    else:
        section.p(f"The Grad-CAM maps explain the trained model's {attrs.get('target', 'predicted class')}.")
    section.p("They are drawn over the samples shown in this report (in viridis over the image in grey: yellow = most important for the explained output, see the colour bars).")
    facts = [("explained layer", attrs.get("layer")), ("explained output", attrs.get("target")),
             ("mean probability of the explained output", attrs.get("mean_target_prob")),
             ("images whose map is empty", attrs.get("empty_maps_fraction")), ("normalisation", attrs.get("normalization"))]
    section.kv([(k, v) for k, v in facts if v is not None])
    numbers = [(k, v) for k, v in head.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if numbers:
        section.table(["linear head (training)", "value"], numbers)
