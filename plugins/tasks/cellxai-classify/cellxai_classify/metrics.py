"""Classification metrics per fold and their mean ± sd (scikit-learn), ROC curve points.

Names (the keys of every metrics dict; ``cellxai compare --metric`` takes them):
accuracy, recall and precision (macro averages over classes), auc_macro, auc_micro,
auc_weighted (one-vs-rest AUC-ROC), f1_macro, f1_micro, f1_weighted, f1_samples
(F1 on one-hot labels averaged per sample; equals accuracy for single-label data).
"""

from __future__ import annotations

import math
import re

import numpy as np

METRICS = (
    "accuracy",
    "recall",
    "precision",
    "auc_macro",
    "auc_micro",
    "auc_weighted",
    "f1_macro",
    "f1_micro",
    "f1_weighted",
    "f1_samples",
)


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    return np.eye(n_classes, dtype=np.int64)[np.asarray(labels, dtype=np.int64)]


def _auc(onehot: np.ndarray, proba: np.ndarray, average: str) -> float:
    from sklearn.metrics import roc_auc_score

    present = onehot.sum(axis=0) > 0
    if present.sum() < 2:  # AUC is undefined with a single class present
        return math.nan
    if average != "micro":  # classes absent from this fold have no AUC; average over the others
        onehot, proba = onehot[:, present], proba[:, present]
    return float(roc_auc_score(onehot, proba, average=average))


def classification_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """All :data:`METRICS` for true class indices (n,) and predicted probabilities (n, K)."""
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    n_classes = proba.shape[1]
    y_pred = proba.argmax(axis=1)
    labels = list(range(n_classes))
    true_hot, pred_hot = one_hot(y_true, n_classes), one_hot(y_pred, n_classes)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "recall": float(recall_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "precision": float(precision_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "auc_macro": _auc(true_hot, proba, "macro"),
        "auc_micro": _auc(true_hot, proba, "micro"),
        "auc_weighted": _auc(true_hot, proba, "weighted"),
        "f1_macro": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "f1_micro": float(f1_score(y_true, y_pred, labels=labels, average="micro", zero_division=0)),
        "f1_weighted": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "f1_samples": float(f1_score(true_hot, pred_hot, average="samples", zero_division=0)),
    }


def summarize(per_fold: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """{metric: {"mean": ..., "sd": ...}} over folds; sd is the sample standard deviation (ddof=1)."""
    out = {}
    for name in per_fold[0]:
        values = np.array([m[name] for m in per_fold], dtype=np.float64)
        sd = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
        out[name] = {"mean": float(np.mean(values)), "sd": sd}
    return out


def safe_name(name: str) -> str:
    """A class name usable as a store path component."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)) or "_"


def roc_points(y_true: np.ndarray, proba: np.ndarray, classes: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """One-vs-rest ROC curves per class and the micro-average: {name: {"fpr", "tpr", "thresholds"}}."""
    from sklearn.metrics import roc_curve

    true_hot = one_hot(y_true, len(classes))
    curves: dict[str, dict[str, np.ndarray]] = {}
    targets = [(safe_name(c), true_hot[:, k], proba[:, k]) for k, c in enumerate(classes)]
    targets.append(("micro", true_hot.ravel(), np.asarray(proba).ravel()))
    for name, truth, score in targets:
        if truth.min() == truth.max():
            continue
        fpr, tpr, thresholds = roc_curve(truth, score)
        thresholds = np.minimum(thresholds, 1.0)  # sklearn puts +inf first
        curves[name] = {"fpr": fpr.astype(np.float32), "tpr": tpr.astype(np.float32), "thresholds": thresholds.astype(np.float32)}
    return curves
