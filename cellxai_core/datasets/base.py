"""Small helpers shared by the built-in datasets."""

from __future__ import annotations

import operator


def check_index(index: int, length: int) -> int:
    """``index`` as a plain int in ``range(length)``; negative or too large raise IndexError."""
    try:
        i = operator.index(index)
    except TypeError:
        raise TypeError(f"dataset indices must be integers, got {type(index).__name__}") from None
    if not 0 <= i < length:
        raise IndexError(f"index {i} out of range for a dataset of {length} samples")
    return i


def sample_id(prefix: str, index: int, length: int) -> str:
    """Zero-padded ids that sort in index order: ``well-0007``."""
    width = max(4, len(str(max(length - 1, 0))))
    return f"{prefix}-{index:0{width}d}"
