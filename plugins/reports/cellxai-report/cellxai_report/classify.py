"""Report sections of task *classify*: how well, where it errs, what it looks like, how sure it is.

Built from the task's store paths only (``schema``); Gmean images and Grad-CAM come from
the explainers' plugins (their own sections, and maps drawn over the samples shown here).
"""

from __future__ import annotations

import re

import numpy as np

from cellxai_core import schema

from . import figures as F
from .images import OVERLAY_SCALE, montage_figure
from .page import Section
from .samples import map_labels, sample_tiles
from .source import ReportSource

HEADLINE = ("auc_macro", "accuracy", "f1_macro")
EXAMPLES_PER_CLASS = 4
UNCERTAIN = 8
CHANCE_AUC = 0.6


class ClassifyReport:
    """What the classify sections share: held-out probabilities, classes, true classes."""

    def __init__(self, src: ReportSource) -> None:
        self.src = src
        self.proba = src.read(schema.PROBA)
        self.attrs = src.attrs(schema.PREDICTIONS) | src.attrs(schema.PROBA)
        self.classes = schema.classes(src.store)
        self.pred = self.proba.argmax(axis=1)
        truth = src.read(schema.truth("class"))
        self.truth = None
        if truth is not None:
            lookup = {c: i for i, c in enumerate(self.classes)}
            mapped = [lookup.get(str(t), -1) for t in truth.tolist()]
            self.truth = np.asarray(mapped) if min(mapped) >= 0 else None

    def entropy(self) -> tuple[np.ndarray, str]:
        """Per-sample uncertainty: MC-dropout predictive entropy when stored, else that of the held-out probabilities."""
        mc = self.src.read(f"{schema.UNCERTAINTY}/entropy")
        if mc is not None:
            return mc.astype(np.float64), "MC-dropout predictive entropy"
        p = np.clip(self.proba.astype(np.float64), 1e-12, 1)
        return -(p * np.log(p)).sum(axis=1), "entropy of the held-out predicted probabilities"


def shared(src: ReportSource) -> ClassifyReport | None:
    """The run's :class:`ClassifyReport`, made once per report; None when the task wrote no predictions."""
    if not src.has(schema.PROBA):
        return None
    if "classify" not in src.cache:
        src.cache["classify"] = ClassifyReport(src)
    return src.cache["classify"]


def performance(src: ReportSource, sec: Section) -> None:
    """Fold metrics (mean ± sd), ROC curves and the confusion matrix of the held-out predictions."""
    cr = shared(src)
    if cr is None:
        sec.note(f"This run has no {schema.PROBA}: the classify stage did not write results.")
        return
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
        sec.note(f"No per-fold metrics stored ({schema.PREDICTIONS} attrs 'fold_metrics').")
    _roc(sec, cr)
    _confusion(sec, cr)


def _roc(sec: Section, cr: ClassifyReport) -> None:
    curves, aucs = {}, {}
    for name in list(cr.classes) + ["micro"]:
        root = f"{schema.ROC}/{_safe(name)}"
        fpr, tpr = cr.src.read(f"{root}/fpr"), cr.src.read(f"{root}/tpr")
        if fpr is not None and tpr is not None:
            curves[name] = (fpr, tpr)
            aucs[name] = float(np.trapezoid(tpr, fpr)) if hasattr(np, "trapezoid") else float(np.trapz(tpr, fpr))
    if curves:
        sec.figure(F.roc_curves(curves, aucs), "ROC curves of the held-out predictions of all folds pooled (one class against the rest; dashed: micro-average). "
                   "The pooled AUC can differ from the mean of the per-fold AUCs above when the folds' models are calibrated differently.")
    else:
        sec.note(f"No ROC curve points stored ({schema.ROC}).")


def _confusion(sec: Section, cr: ClassifyReport) -> None:
    if cr.truth is None:
        sec.note(f"No true classes ({schema.truth('class')}): confusion matrix skipped.")
        return
    k = len(cr.classes)
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (cr.truth, cr.pred), 1)
    sec.figure(F.count_matrix(matrix, cr.classes, cr.classes, "predicted class", "true class"),
               "Confusion matrix of the held-out predictions (rows: true class).")


def examples(src: ReportSource, sec: Section) -> None:
    """The most confidently and correctly classified samples of each class, with the plugins' maps."""
    cr = shared(src)
    if cr is None:
        return
    rows, labels, maps = [], [], []
    for c, name in enumerate(cr.classes):
        correct = np.flatnonzero((cr.pred == c) & ((cr.truth == c) if cr.truth is not None else True))
        chosen = correct[np.argsort(-cr.proba[correct, c], kind="stable")][:EXAMPLES_PER_CLASS]
        if len(chosen) == 0:
            continue
        tiles = sample_tiles(src, chosen)
        if tiles is None:
            sec.note(src.images_note())
            return
        rows.append([t.images[0] for t in tiles])
        labels.append(f"{name}\n(images)")
        maps = map_labels(tiles)
        for j, label in enumerate(maps):
            rows.append([t.overlays[j][1][0] for t in tiles])
            labels.append(f"{name}\n({label})")
    if not rows:
        sec.note("No sample was classified correctly: no typical samples to show.")
        return
    caption = "The most confidently and correctly classified cells of each class"
    if maps:
        caption += f", with their {' / '.join(maps)} overlay for the predicted class (the image in grey, the map in colour, see the bar)"
    sec.figure(montage_figure(rows, labels, [f"#{j + 1}" for j in range(max(len(r) for r in rows))],
                              colorbar=OVERLAY_SCALE if maps else None), caption + ".")


def uncertain(src: ReportSource, sec: Section) -> None:
    """The samples the model is least sure about: the ones to check by eye."""
    cr = shared(src)
    if cr is None:
        return
    score, what = cr.entropy()
    order = np.argsort(-score, kind="stable")[:UNCERTAIN]
    std = src.read(f"{schema.UNCERTAINTY}/std")
    fold = src.read(schema.FOLD)
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
    tiles = sample_tiles(src, order)
    if tiles is None:
        sec.note(src.images_note())
        return
    maps = map_labels(tiles)
    montage = [[t.images[0] for t in tiles]] + [[t.overlays[j][1][0] for t in tiles] for j in range(len(maps))]
    caption = "The same samples, most uncertain first" + (f", with their {' / '.join(maps)} overlay" if maps else "")
    sec.figure(montage_figure(montage, ["images"] + maps, [str(src.ids[i]) for i in order],
                              colorbar=OVERLAY_SCALE if maps else None), caption + ".")


# -- helpers ---------------------------------------------------------------------------------
def _pm(entry: dict | None) -> str:
    if not entry or entry.get("mean") is None:
        return "—"
    return f"{entry['mean']:.3f} ± {entry.get('sd') or 0:.3f}"


def _safe(name: str) -> str:
    """A class name as the classify task names its ROC group (``predictions/roc/<safe name>``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)) or "_"
