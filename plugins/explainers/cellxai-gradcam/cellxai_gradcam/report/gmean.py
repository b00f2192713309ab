"""The ``gmean`` section: the typical sample of each cluster or class and where the model looks.

Layout written by the gmean explainer: ``shape`` (G, S, C, H, W); ``gradcam`` and
``correlation`` (G, S, H, W); attrs ``groups`` (names), ``group_ids``, ``ratios``, ``threshold``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cellxai_core import schema

from .draw import CMAP, composite, image_panels, overlay

GMEAN = "gmean"
MAX_TYPICAL = 12


def _read(store: Any, name: str) -> np.ndarray | None:
    path = schema.explanation(GMEAN, name)
    return store.read(path) if store.has(path) else None


def set_axis(run: Any) -> str:
    return str(run.store.attrs(schema.SAMPLES).get("set_axis", "image"))


def positions(run: Any, s: int) -> list[str]:
    """Names of the set positions (days of a well, channels of a cell) as the run stored them."""
    stored = [str(x) for x in run.store.attrs(schema.SAMPLES).get("set_labels") or []]
    if s == 1:
        return [""]
    return stored if len(stored) == s else [str(i + 1) for i in range(s)]


def render(run: Any, section: Any) -> None:
    """Gmean images per cluster (typical well) or per class (with correlation images and ratios)."""
    shape, cam = _read(run.store, "shape"), _read(run.store, "gradcam")
    if shape is None and cam is None:
        section.note("No gmean explainer in this run: Gmean-Shape, Gmean-GradCAM and correlation images skipped.")
        return
    if run.task == "cluster":
        _typical(run, section, shape, cam)
    else:
        _per_class(run, section, shape, cam)


def _typical(run: Any, section: Any, shape: np.ndarray | None, cam: np.ndarray | None) -> None:
    """The geometric-mean well of each cluster, every day, and the geometric mean of its Grad-CAM maps."""
    if shape is None or shape.ndim != 5:
        section.note("No Gmean-Shape images in this run: typical samples skipped.")
        return
    labels = run.labels
    ids = run.store.attrs(schema.explanation(GMEAN)).get("group_ids") or sorted(k for k in set(labels.tolist()) if k >= 0)
    sizes = [int((labels == int(k)).sum()) for k in ids]
    shown = sorted(sorted(range(len(ids)), key=lambda g: -sizes[g])[:MAX_TYPICAL])
    axis = set_axis(run)
    rows, names = [], []
    for g in shown:
        rgb = composite(shape[g], axis)
        cols = positions(run, len(rgb))
        rows.append([(x, cols[j], None) for j, x in enumerate(rgb)])
        names.append(f"cluster {ids[g]}")
        if cam is not None and g < len(cam) and len(cam[g]) == len(rgb):
            maps = cam[g].astype(np.float32)
            top = max(float(maps.max()), 1e-6)
            rows.append([(overlay(x, m / top), cols[j], None) for j, (x, m) in enumerate(zip(rgb, maps))])
            names.append("Gmean-GradCAM")
    word = {"time": "day", "channel": "channel"}.get(axis, "image")
    section.figure(
        image_panels(rows, names, size=2.0, titles="first", colorbar="Gmean-GradCAM (0 to the cluster's maximum)"),
        f"The typical {'well' if axis == 'time' else 'sample'} of each cluster: the geometric mean of all its images "
        f"(Gmean-Shape) on every {word}, and below it the geometric mean of their Grad-CAM maps "
        "(Gmean-GradCAM over the Gmean-Shape in grey, scaled to the cluster's maximum: the colour bar's scale, "
        "bright yellow = where the model looks most)."
        + (f" The {MAX_TYPICAL} largest of {len(ids)} clusters." if len(ids) > MAX_TYPICAL else ""),
    )


def _per_class(run: Any, section: Any, shape: np.ndarray | None, cam: np.ndarray | None) -> None:
    """Gmean-Shape, Gmean-GradCAM and their correlation per class, with the correlated-pixel ratios."""
    attrs = run.store.attrs(schema.explanation(GMEAN))
    classes = schema.classes(run.store)
    rows = _class_rows(run, attrs, shape, cam, _read(run.store, "correlation"), classes)
    section.p("Gmean-Shape is the weighted geometric mean of all images of a class (what a typical cell looks like); "
              "Gmean-GradCAM the geometric mean of their Grad-CAM maps (where the model typically looks); the correlation "
              "image is their patch-wise Pearson correlation: red where bright structure and attention coincide, blue where "
              "the model attends to dark areas.")
    section.figure(image_panels([row for _, row in rows], [name for name, _ in rows]),
                   "Gmean images per predicted class (Grad-CAM and correlation per isolated channel where the channels are separate inputs).")
    absent = [c for c in classes if c not in {name for name, _ in rows}]
    if absent:
        section.note(f"No Gmean images for {', '.join(absent)}: the gmean explainer groups cells by predicted class and none was predicted so.")
    ratios = attrs.get("ratios") or {}
    table = [(str(n), r.get("positive"), r.get("negative")) for n, r in (ratios.items() if isinstance(ratios, dict) else []) if isinstance(r, dict)]
    if table:
        thr = attrs.get("threshold", 0.5)
        section.table(["class", f"positively correlated pixels (ρ > {thr})", f"negatively correlated pixels (ρ < −{thr})"], table)


def _class_rows(run: Any, attrs: dict, shape: Any, cam: Any, corr: Any, classes: list[str]) -> list[tuple[str, list]]:
    """(class name, panels): Gmean-Shape (RGB), then Gmean-GradCAM and correlation per set position."""
    out = []
    for g, name in enumerate(str(n) for n in (attrs.get("groups") or classes)):
        panels = []
        if shape is not None and g < len(shape) and shape.ndim == 5:
            panels.append((composite(shape[g], set_axis(run))[0], "Gmean-Shape", None))
        for label, arr, cmap in (("Gmean-GradCAM", cam, CMAP), ("correlation", corr, "bwr")):
            if arr is None or g >= len(arr):
                continue
            per = np.asarray(arr[g], dtype=np.float32).reshape(-1, *arr.shape[-2:])
            where = positions(run, len(per))
            panels.extend((m, f"{label} {where[j]}".strip(), cmap) for j, m in enumerate(per))
        out.append((name, panels))
    return out
