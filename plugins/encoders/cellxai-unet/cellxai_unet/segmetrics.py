"""The paper's segmentation metrics (Table 1): Acc, SE, SP, PC, JS, DC per class, one-vs-rest.

Confusion counts are accumulated over batches (so evaluating many images needs no
memory) and turned into metrics once at the end.
"""

from __future__ import annotations

import torch

METRICS = ("acc", "se", "sp", "pc", "js", "dc")


class ConfusionCounter:
    """One-vs-rest TP / FP / FN / TN per class, accumulated over (N, H, W) label maps."""

    def __init__(self, n_classes: int) -> None:
        self.n_classes = n_classes
        self.counts = torch.zeros(n_classes, 4, dtype=torch.float64)  # tp, fp, fn, tn

    def update(self, predicted: torch.Tensor, truth: torch.Tensor) -> None:
        pred = predicted.reshape(-1).cpu()
        true = truth.reshape(-1).cpu().to(pred.dtype)
        joint = torch.bincount(true * self.n_classes + pred, minlength=self.n_classes**2)
        matrix = joint.reshape(self.n_classes, self.n_classes).to(torch.float64)  # rows truth, cols predicted
        tp = matrix.diagonal()
        fp = matrix.sum(dim=0) - tp
        fn = matrix.sum(dim=1) - tp
        tn = matrix.sum() - tp - fp - fn
        self.counts += torch.stack([tp, fp, fn, tn], dim=1)

    def metrics(self, class_names: tuple[str, ...], skip: tuple[int, ...] = (0,)) -> dict[str, float]:
        """``{metric}_{class}`` for each class not in ``skip``, and ``{metric}_mean`` over them."""
        out: dict[str, float] = {}
        per_metric: dict[str, list[float]] = {m: [] for m in METRICS}
        for k, name in enumerate(class_names):
            if k in skip:
                continue
            values = binary_metrics(*self.counts[k].tolist())
            for metric, value in values.items():
                out[f"{metric}_{name}"] = value
                per_metric[metric].append(value)
        for metric, values in per_metric.items():
            if values:
                out[f"{metric}_mean"] = float(sum(values) / len(values))
        return out


def _ratio(num: float, den: float, nothing_to_get_wrong: bool) -> float:
    """num / den; when den is 0, 1.0 if the class is absent from truth and prediction alike, else 0.0
    (scikit-learn's ``zero_division=0``, except that an empty class segmented as empty is perfect)."""
    if den:
        return num / den
    return 1.0 if nothing_to_get_wrong else 0.0


def binary_metrics(tp: float, fp: float, fn: float, tn: float) -> dict[str, float]:
    """Accuracy, sensitivity (recall), specificity, precision, Jaccard and Dice from counts."""
    empty = tp + fp + fn == 0
    return {
        "acc": _ratio(tp + tn, tp + fp + fn + tn, True),
        "se": _ratio(tp, tp + fn, empty),
        "sp": _ratio(tn, tn + fp, fp == 0),
        "pc": _ratio(tp, tp + fp, empty),
        "js": _ratio(tp, tp + fp + fn, empty),
        "dc": _ratio(2 * tp, 2 * tp + fp + fn, empty),
    }
