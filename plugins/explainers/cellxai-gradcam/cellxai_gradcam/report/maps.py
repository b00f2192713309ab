"""Grad-CAM maps in the report: drawn over the samples the report shows, and what they explain.

``sample_maps`` is registered as the ``maps`` option: the report asks for the maps of the
samples it shows (cluster cards, typical and uncertain samples) and overlays them. With
gradcam's ``contours: true`` this section also draws the most confident sample of each
explained target with the outlines of its object masks over the overlay (``sample_contours``).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from cellxai_core import schema

GRADCAM = "gradcam"
CONTOUR_SAMPLES = 4  # samples drawn with contours: the most confident one of each of the most frequent targets


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
    facts = [("explained layer", attrs.get("layer")), ("how to read the maps", attrs.get("layer_reading")),
             ("explained output", attrs.get("target")),
             ("mean probability of the explained output", attrs.get("mean_target_prob")),
             ("images whose map is empty", attrs.get("empty_maps_fraction")), ("normalisation", attrs.get("normalization"))]
    section.kv([(k, v) for k, v in facts if v is not None])
    numbers = [(k, v) for k, v in head.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if numbers:
        section.table(["linear head (training)", "value"], numbers)
    if contours_on(run):
        _contour_figure(run, section)


def contours_on(run: Any) -> bool:
    """gradcam's ``contours`` param in the run's resolved config."""
    for spec in (getattr(run, "config", None) or {}).get("explainers") or []:
        if isinstance(spec, dict) and spec.get("name") == GRADCAM:
            return bool((spec.get("params") or {}).get("contours"))
    return False


def sample_contours(run: Any, indices: Sequence[int]) -> np.ndarray | None:
    """(n, S, H, W) object labels (the dataset's truth masks) of samples ``indices``, or None when it has none."""
    dataset = getattr(run, "dataset", None)
    if dataset is None or len(indices) == 0:
        return None
    masks = [dataset[int(i)].truth.get("mask") for i in indices]
    if any(m is None for m in masks):
        return None
    return np.stack([np.asarray(m).reshape(-1, *np.asarray(m).shape[-2:]) for m in masks])


def report_contours(run: Any, indices: Sequence[int]) -> np.ndarray | None:
    """The outlines for the report's sample montages (a ``contours`` provider): the truth masks when
    gradcam's ``contours`` is set, else None."""
    return sample_contours(run, indices) if contours_on(run) else None


def _chosen(store: Any) -> list[int]:
    """The most confident sample of each of the ``CONTOUR_SAMPLES`` most frequent explained targets."""
    targets = store.read(schema.explanation(GRADCAM, "targets"))
    prob = store.read(schema.explanation(GRADCAM, "target_prob")).astype(np.float64)
    values, counts = np.unique(targets, return_counts=True)
    frequent = values[np.argsort(-counts, kind="stable")][:CONTOUR_SAMPLES]
    return [int(np.flatnonzero(targets == t)[np.argmax(prob[targets == t])]) for t in frequent]


def _contour_figure(run: Any, section: Any) -> None:
    """Grad-CAM over the image in grey with the object outlines in white, one row per chosen sample."""
    from .draw import composite, image_panels, overlay
    from .gmean import positions, set_axis

    indices = _chosen(run.store)
    images = [run.images(i) for i in indices]
    if any(im is None for im in images):
        section.note("contours: true, but the run's images cannot be read: no outlined overlays.")
        return
    masks = sample_contours(run, indices)
    if masks is None:
        section.note("contours: true, but the dataset has no object masks (truth) for these samples: overlays without outlines.")
        return
    cams, rows, names = sample_maps(run, indices), [], []
    targets = run.store.read(schema.explanation(GRADCAM, "targets"))
    for r, i in enumerate(indices):
        rgb = composite(images[r], set_axis(run))
        cam = cams[r] if len(cams[r]) == len(rgb) else cams[r].mean(axis=0, keepdims=True)
        outline = masks[r] if len(masks[r]) == len(rgb) else masks[r].max(axis=0, keepdims=True)
        cols = positions(run, len(rgb))
        rows.append([(overlay(x, m, contours=o), cols[j], None) for j, (x, m, o) in enumerate(zip(rgb, cam, outline))])
        names.append(f"sample {run.ids[i]} (target {targets[i]})")
    section.figure(image_panels(rows, names, size=2.0, titles="first", colorbar="Grad-CAM (each map: 0 to its maximum)"),
                   "Grad-CAM of the most confident sample of each explained target, over the image in grey, with the "
                   "outlines of the dataset's object masks in white (display only: the map is computed everywhere).")
