"""Stratified k-fold assignment: every sample is held out exactly once."""

from __future__ import annotations

import numpy as np

from cellxai_core.errors import ConfigError


def assign_folds(labels: np.ndarray, folds: int, seed: int, classes: list[str] | None = None) -> np.ndarray:
    """The held-out fold (0 .. folds-1) of each sample, stratified by class, shuffled with ``seed``."""
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    values, counts = np.unique(labels, return_counts=True)
    if len(values) < 2:
        raise ConfigError("classify: the dataset has a single class; classification needs at least two")
    if counts.min() < folds:
        worst = values[counts.argmin()]
        name = classes[int(worst)] if classes is not None else str(worst)
        raise ConfigError(
            f"classify.folds: {folds} folds need at least {folds} samples per class, "
            f"class '{name}' has {counts.min()}; lower classify.folds or add samples"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed % (2**32))
    fold = np.full(len(labels), -1, dtype=np.int32)
    for k, (_, held_out) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        fold[held_out] = k
    return fold


def fold_indices(fold: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(training indices, held-out indices) of fold ``k``."""
    return np.flatnonzero(fold != k), np.flatnonzero(fold == k)
