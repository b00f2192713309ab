"""Plots of the report (matplotlib, Agg backend: no display needed).

Every function returns a figure; :meth:`Section.figure` embeds and closes it.
Clusters keep one colour everywhere (embedding, profiles, cards, AnnData colours).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

NOISE_COLOUR = "#b0b0b0"
plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})


def cluster_colours(clusters: Sequence[int]) -> dict[int, str]:
    """A hex colour per cluster id (tab10, then tab20); noise (-1) grey."""
    from matplotlib.colors import to_hex

    cmap = plt.get_cmap("tab10" if len([k for k in clusters if k >= 0]) <= 10 else "tab20")
    out, i = {}, 0
    for k in sorted(clusters):
        if k < 0:
            out[k] = NOISE_COLOUR
        else:
            out[k] = to_hex(cmap(i % cmap.N))
            i += 1
    return out


def embedding_scatter(
    embedding: np.ndarray, labels: np.ndarray, colours: Mapping[int, str], exemplars: Sequence[int], method: str
):
    """The 2-D embedding, one colour per cluster, exemplars as black-edged stars with their id."""
    fig, ax = plt.subplots(figsize=(6.2, 5.2))
    size = float(np.clip(2000 / max(len(labels), 1), 6, 40))
    for k in sorted(colours):
        m = labels == k
        name = "noise" if k < 0 else f"cluster {k} (n={int(m.sum())})"
        ax.scatter(embedding[m, 0], embedding[m, 1], s=size, c=colours[k], label=name, alpha=0.8, linewidths=0)
    for i in exemplars:
        k = int(labels[i])
        ax.scatter(*embedding[i], s=180, marker="*", c=colours.get(k, "k"), edgecolors="black", linewidths=1, zorder=3)
        ax.annotate(str(k), embedding[i], xytext=(6, 6), textcoords="offset points", fontsize=10, weight="bold")
    ax.set_xlabel(f"{method} 1")
    ax.set_ylabel(f"{method} 2")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=8, loc="best", markerscale=1.5, frameon=False, bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def profiles_over_set(
    values: Mapping[int, np.ndarray],
    colours: Mapping[int, str],
    feature_names: Sequence[str],
    x_labels: Sequence[str],
    ylabel: str,
    highlight: int | None = None,
):
    """One panel per feature: per cluster the median over its samples along the set axis, IQR shaded.

    ``values[k]`` is (n_k, S, F). With ``highlight`` only that cluster is coloured and the
    others are thin grey lines, so a cluster card shows "this cluster against the rest".
    """
    n_feat = len(feature_names)
    fig, axes = plt.subplots(1, n_feat, figsize=(2.6 * n_feat + 0.6, 2.5), squeeze=False, sharey=False)
    x = np.arange(len(x_labels))
    for f, ax in enumerate(axes[0]):
        for k, v in values.items():
            if len(v) == 0:
                continue
            med = np.median(v[:, :, f], axis=0)
            if highlight is not None and k != highlight:
                ax.plot(x, med, color="#c8c8c8", lw=1, zorder=1)
                continue
            q1, q3 = np.percentile(v[:, :, f], [25, 75], axis=0)
            ax.plot(x, med, color=colours[k], lw=2.2, marker="o", ms=3, label=f"cluster {k}" if k >= 0 else "noise", zorder=3)
            ax.fill_between(x, q1, q3, color=colours[k], alpha=0.18, lw=0, zorder=2)
        ax.set_title(feature_names[f], fontsize=10)
        ax.set_xticks(x, x_labels, fontsize=8, rotation=0 if len(x) <= 6 else 45)
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
        if f == 0:
            ax.set_ylabel(ylabel)
    if highlight is None and len(values) <= 12:
        axes[0][-1].legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def signature_heatmap(matrix: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], values: np.ndarray):
    """Clusters x properties: colour = z-score against all samples, text = the cluster's median."""
    fig, ax = plt.subplots(figsize=(1.05 * len(col_labels) + 2.2, 0.45 * len(row_labels) + 1.6))
    lim = max(2.0, float(np.nanmax(np.abs(matrix))) if matrix.size else 2.0)
    im = ax.imshow(matrix, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(len(col_labels)), col_labels, rotation=30, ha="right")
    ax.set_yticks(range(len(row_labels)), row_labels)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, _short(values[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if abs(matrix[i, j]) > 0.6 * lim else "black")
    fig.colorbar(im, ax=ax, label="z-score vs all wells", shrink=0.8)
    ax.spines[:].set_visible(False)
    fig.tight_layout()
    return fig


def count_matrix(matrix: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], xlabel: str, ylabel: str, cmap: str = "Blues"):
    """Counts (confusion matrix, clusters x planted groups) with the number in each cell."""
    fig, ax = plt.subplots(figsize=(0.8 * len(col_labels) + 2.4, 0.5 * len(row_labels) + 1.6))
    ax.imshow(matrix, cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(col_labels)), col_labels, rotation=30, ha="right")
    ax.set_yticks(range(len(row_labels)), row_labels)
    top = matrix.max() if matrix.size else 1
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=9,
                    color="white" if matrix[i, j] > 0.6 * top else "black")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.spines[:].set_visible(False)
    fig.tight_layout()
    return fig


def roc_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], aucs: Mapping[str, float]):
    """ROC curves (one-vs-rest per class and micro-average), AUC in the legend."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    for name, (fpr, tpr) in curves.items():
        style = dict(ls="--", color="black", lw=1.5) if name == "micro" else dict(lw=2)
        auc = aucs.get(name)
        label = f"{name} (AUC {auc:.3f})" if auc is not None else name
        ax.plot(fpr, tpr, label=label, **style)
    ax.plot([0, 1], [0, 1], color="#bbbbbb", lw=1, ls=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend(fontsize=8, loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def fold_metrics(per_fold: Sequence[Mapping[str, float]], names: Sequence[str]):
    """Each metric's value in every fold (dots) with the mean ± sd (bar)."""
    fig, ax = plt.subplots(figsize=(0.75 * len(names) + 1.8, 3.0))
    for j, name in enumerate(names):
        vals = np.array([m.get(name) if m.get(name) is not None else np.nan for m in per_fold], dtype=float)
        ok = vals[np.isfinite(vals)]
        if ok.size:
            ax.errorbar(j, ok.mean(), yerr=ok.std(ddof=1) if ok.size > 1 else 0, fmt="_", color="black", ms=18, capsize=4, zorder=3)
            ax.scatter(np.full(ok.size, j) + np.linspace(-0.15, 0.15, ok.size), ok, s=14, color="#3b75af", zorder=2)
    ax.set_xticks(range(len(names)), names, rotation=35, ha="right")
    ax.set_ylim(min(0.5, ax.get_ylim()[0]), 1.02)
    ax.set_ylabel("score per fold")
    fig.tight_layout()
    return fig


def _short(v: float) -> str:
    if v is None or not np.isfinite(v):
        return "—"
    a = abs(v)
    if a >= 0.01 or a == 0:
        return f"{v:.2f}"
    return f"{v:.3f}" if a >= 0.001 else f"{v:.0e}"
