"""Report sections of task *classify*: how well, where it errs, what it looks at, how sure it is."""

from __future__ import annotations

import numpy as np

from . import figures as F
from .images import composite, montage_figure, overlay, stretch
from .page import Section, guarded
from .source import ReportSource

HEADLINE = ("auc_macro", "accuracy", "f1_macro")
EXAMPLES_PER_CLASS = 4
UNCERTAIN = 8
CHANCE_AUC = 0.6


class ClassifyReport:
    def __init__(self, src: ReportSource) -> None:
        self.src = src
        self.proba = src.read("predictions/proba")
        self.attrs = src.attrs("predictions") | src.attrs("predictions/proba")
        n_classes = self.proba.shape[1]
        self.classes = [str(c) for c in (self.attrs.get("classes") or src.sample_attrs.get("classes") or range(n_classes))]
        self.pred = self.proba.argmax(axis=1)
        truth = src.read("samples/truth/class")
        self.truth = None
        if truth is not None:
            lookup = {c: i for i, c in enumerate(self.classes)}
            mapped = [lookup.get(str(t), -1) for t in truth.tolist()]
            self.truth = np.asarray(mapped) if min(mapped) >= 0 else None

    def entropy(self) -> tuple[np.ndarray, str]:
        """Per-sample uncertainty: MC-dropout predictive entropy when stored, else that of the held-out probabilities."""
        mc = self.src.read("predictions/uncertainty/entropy")
        if mc is not None:
            return mc.astype(np.float64), "MC-dropout predictive entropy"
        p = np.clip(self.proba.astype(np.float64), 1e-12, 1)
        return -(p * np.log(p)).sum(axis=1), "entropy of the held-out predicted probabilities"


def performance(cr: ClassifyReport) -> Section:
    src, sec = cr.src, Section("performance", "How well are the classes told apart?")
    summary = cr.attrs.get("metrics") or {}
    per_fold = cr.attrs.get("fold_metrics") or []
    names = list(cr.attrs.get("metric_names") or summary.keys())
    n_folds = cr.attrs.get("folds", len(per_fold))
    counts = ", ".join(f"{c}: {int((cr.truth == i).sum())}" for i, c in enumerate(cr.classes)) if cr.truth is not None else ""
    line = f"{len(cr.proba)} samples, {len(cr.classes)} classes ({counts or ', '.join(cr.classes)}), stratified {n_folds}-fold cross-validation."
    for key in HEADLINE:
        if key in summary and summary[key].get("mean") is not None:
            line += f" {key.replace('_', ' ')} {summary[key]['mean']:.3f} ± {summary[key].get('sd') or 0:.3f}."
    sec.p(line, "headline")
    auc_mean = (summary.get("auc_macro") or {}).get("mean")
    if auc_mean is not None and auc_mean < CHANCE_AUC:
        sec.note(f"The classifier is close to chance (mean AUC {auc_mean:.2f}): the explanations below show what an "
                 "uninformative model looks at; train longer or on more cells before reading them biologically.")
    missing = [c for i, c in enumerate(cr.classes) if not (cr.pred == i).any()]
    if missing:
        sec.note(f"No sample was predicted as {', '.join(missing)}.")
    sec.p("Every prediction comes from the fold in which the sample was held out; ± is the standard deviation over folds.")
    if per_fold and names:
        rows = [[f"fold {i + 1}"] + [m.get(k) for k in names] for i, m in enumerate(per_fold)]
        rows.append(["mean ± sd"] + [_pm(summary.get(k)) for k in names])
        sec.table(["fold"] + names, rows)
        sec.figure(F.fold_metrics(per_fold, names), "Each metric in every fold (dots) with mean ± sd (bar).")
    else:
        sec.note("No per-fold metrics stored (predictions attrs 'fold_metrics').")

    curves, aucs = {}, {}
    for name in list(cr.classes) + ["micro"]:
        safe = _safe(name)
        fpr, tpr = src.read(f"predictions/roc/{safe}/fpr"), src.read(f"predictions/roc/{safe}/tpr")
        if fpr is not None and tpr is not None:
            curves[name] = (fpr, tpr)
            aucs[name] = float(np.trapezoid(tpr, fpr)) if hasattr(np, "trapezoid") else float(np.trapz(tpr, fpr))
    if curves:
        sec.figure(F.roc_curves(curves, aucs), "ROC curves of the held-out predictions of all folds pooled (one class against the rest; dashed: micro-average). "
                   "The pooled AUC can differ from the mean of the per-fold AUCs above when the folds' models are calibrated differently.")
    else:
        sec.note("No ROC curve points stored (predictions/roc).")
    if cr.truth is not None:
        k = len(cr.classes)
        matrix = np.zeros((k, k), dtype=np.int64)
        np.add.at(matrix, (cr.truth, cr.pred), 1)
        sec.figure(F.count_matrix(matrix, cr.classes, cr.classes, "predicted class", "true class"),
                   "Confusion matrix of the held-out predictions (rows: true class).")
    else:
        sec.note("No true classes (samples/truth/class): confusion matrix skipped.")
    return sec


def class_maps(cr: ClassifyReport) -> Section:
    """Gmean-Shape / Gmean-GradCAM / correlation per class, then Grad-CAM examples."""
    src, sec = cr.src, Section("explanations", "What the model looks at, per class")
    gm = _gmean(src, cr)
    if gm:
        sec.p("Gmean-Shape is the weighted geometric mean of all images of a class (what a typical cell looks like); "
              "Gmean-GradCAM the geometric mean of their Grad-CAM maps (where the model typically looks); the correlation "
              "image is their patch-wise Pearson correlation: red where bright structure and attention coincide, blue where "
              "the model attends to dark areas.")
        sec.figure(F.image_panels([row for _, row in gm], [name for name, _ in gm]),
                   "Gmean images per predicted class (Grad-CAM and correlation per isolated channel where the channels are separate inputs).")
        absent = [c for c in cr.classes if c not in {name for name, _ in gm}]
        if absent:
            sec.note(f"No Gmean images for {', '.join(absent)}: the gmean explainer groups cells by predicted class and none was predicted so.")
        ratios = src.attrs("explanations/gmean")
        table = _ratio_rows(ratios, cr.classes)
        if table:
            thr = ratios.get("threshold", 0.5)
            sec.table(["class", f"positively correlated pixels (ρ > {thr})", f"negatively correlated pixels (ρ < −{thr})"], table)
    else:
        sec.note("No gmean explainer in this run: Gmean-Shape, Gmean-GradCAM and correlation images skipped.")
    maps_path = "explanations/gradcam/maps"
    if not src.has(maps_path):
        return sec.note("No Grad-CAM maps in this run (add the gradcam explainer): per-sample overlays skipped.")
    rows, labels = [], []
    for c, name in enumerate(cr.classes):
        correct = np.flatnonzero((cr.pred == c) & ((cr.truth == c) if cr.truth is not None else True))
        chosen = correct[np.argsort(-cr.proba[correct, c], kind="stable")][:EXAMPLES_PER_CLASS]
        if len(chosen) == 0:
            continue
        img_row, cam_row = _sample_tiles(src, chosen)
        if img_row is None:
            return sec.note(src.images_note())
        rows += [img_row, cam_row]
        labels += [f"{name}\n(images)", f"{name}\n(Grad-CAM)"]
    if rows:
        sec.figure(montage_figure(rows, labels, [f"#{j + 1}" for j in range(max(len(r) for r in rows))]),
                   "The most confidently and correctly classified cells of each class, with their Grad-CAM overlay for the predicted class (red = most important).",
                   fmt="jpeg")
    return sec


def uncertain(cr: ClassifyReport) -> Section:
    src, sec = cr.src, Section("uncertain", "The most uncertain samples")
    score, what = cr.entropy()
    order = np.argsort(-score, kind="stable")[:UNCERTAIN]
    std = src.read("predictions/uncertainty/std")
    fold = src.read("predictions/fold")
    sec.p(f"Ranked by {what}: these are the cells to check by eye.")
    header = ["sample", "true class", "predicted", "p(predicted)", "uncertainty"] + (["sd (MC)"] if std is not None else []) + (["fold"] if fold is not None else [])
    rows = []
    for i in order:
        row = [str(src.ids[i]), cr.classes[cr.truth[i]] if cr.truth is not None else "—", cr.classes[cr.pred[i]], float(cr.proba[i, cr.pred[i]]), float(score[i])]
        if std is not None:
            row.append(float(std[i, cr.pred[i]]))
        if fold is not None:
            row.append(int(fold[i]) + 1)
        rows.append(row)
    sec.table(header, rows, left=3)
    img_row, cam_row = _sample_tiles(src, order)
    if img_row is None:
        return sec.note(src.images_note())
    rows_img = [img_row] + ([cam_row] if cam_row is not None and src.has("explanations/gradcam/maps") else [])
    sec.figure(montage_figure(rows_img, ["images", "Grad-CAM"][: len(rows_img)], [str(src.ids[i]) for i in order]),
               "The same samples, most uncertain first.", fmt="jpeg")
    return sec


def classify_sections(src: ReportSource) -> list[Section]:
    if not src.has("predictions/proba"):
        return [Section("performance", "Classification").note("This run has no predictions/proba: the classify stage did not write results.")]
    cr = ClassifyReport(src)
    return [
        guarded("performance", "How well are the classes told apart?", performance, cr),
        guarded("explanations", "What the model looks at, per class", class_maps, cr),
        guarded("uncertain", "The most uncertain samples", uncertain, cr),
    ]


# -- helpers ---------------------------------------------------------------------------------
def _sample_tiles(src: ReportSource, indices: np.ndarray) -> tuple[list | None, list | None]:
    """One composite image per sample, and its Grad-CAM overlay (mean over the set) when stored."""
    imgs = [src.images(i) for i in indices]
    if any(im is None for im in imgs):
        return None, None
    maps = src.rows("explanations/gradcam/maps", np.asarray(indices))
    img_row, cam_row = [], []
    for r, im in enumerate(imgs):
        rgb = stretch(composite(im, src.set_axis)[0])
        img_row.append(rgb)
        cam_row.append(overlay(rgb, maps[r].astype(np.float32).mean(axis=0)) if maps is not None else None)
    return img_row, cam_row


def _gmean(src: ReportSource, cr: ClassifyReport) -> list[tuple[str, list]]:
    """Rows (class name, panels): Gmean-Shape (RGB), then Gmean-GradCAM and correlation per set position.

    Layout of the gmean explainer: shape (G, S, C, H, W); gradcam, correlation (G, S, H, W).
    With isolated channels (S = 3) each channel has its own map, so each gets a panel.
    """
    root = "explanations/gmean"
    shape, cam, corr = (src.read(f"{root}/{n}") for n in ("shape", "gradcam", "correlation"))
    if cam is None and shape is None:
        return []
    attrs = src.attrs(root)
    names = [str(g) for g in (attrs.get("groups") or cr.classes)]
    out = []
    for g, name in enumerate(names):
        panels = []
        if shape is not None and g < len(shape) and shape.ndim == 5:
            panels.append((stretch(composite(shape[g], src.set_axis)[0]), "Gmean-Shape", None))
        for label, arr, cmap in (("Gmean-GradCAM", cam, "jet"), ("correlation", corr, "bwr")):
            if arr is None or g >= len(arr):
                continue
            per = np.asarray(arr[g], dtype=np.float32).reshape(-1, *arr.shape[-2:])
            positions = src.set_labels(len(per)) if len(per) > 1 else [""]
            for j, m in enumerate(per):
                panels.append((m, f"{label} {positions[j]}".strip(), cmap))
        out.append((name, panels))
    return out


def _2d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float32)
    while a.ndim > 2:
        a = a.mean(axis=0)
    return a


def _ratio_rows(attrs: dict, classes: list[str]) -> list[tuple]:
    ratios = attrs.get("ratios") or {}
    rows = []
    for name, r in (ratios.items() if isinstance(ratios, dict) else []):
        if isinstance(r, dict):
            rows.append((str(name), r.get("positive"), r.get("negative")))
    return rows


def _pm(entry: dict | None) -> str:
    if not entry or entry.get("mean") is None:
        return "—"
    return f"{entry['mean']:.3f} ± {entry.get('sd') or 0:.3f}"


def _safe(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)) or "_"
