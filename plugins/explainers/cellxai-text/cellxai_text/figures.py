"""Figures of the text plugin's report sections (matplotlib, Agg: no display needed).

Each returns a figure; the report's section embeds and closes it.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

BAR_COLOUR = "#3b75af"


def similarity_matrix(matrix: np.ndarray, labels: Sequence[str], title: str, annotate: bool = True):
    """A (K, K) cosine-similarity matrix, annotated when small."""
    side = min(0.6 * len(labels), 6.0)
    fig, ax = plt.subplots(figsize=(side + 2.8, side + 1.8) if annotate else (3.4, 2.9))
    im = ax.imshow(matrix, cmap="RdBu_r", vmin=-1.0, vmax=1.0)
    if annotate:
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        ax.set_yticks(range(len(labels)), labels)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("members")
    if annotate and len(labels) <= 12:
        for i in range(len(labels)):
            for j in range(len(labels)):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if abs(matrix[i, j]) > 0.6 else "black")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="cosine similarity")
    ax.spines[:].set_visible(False)
    fig.tight_layout()
    return fig


def bars(values: Sequence[float], labels: Sequence[str], ylabel: str, title: str | None = None):
    """One bar per cluster."""
    fig, ax = plt.subplots(figsize=(0.55 * len(labels) + 2.2, 2.6))
    ax.bar(range(len(values)), [0 if v is None else v for v in values], color=BAR_COLOUR)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
