"""Reading a store array in row chunks, so that memory holds one chunk, not the array."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

CHUNK_ROWS = 4096


def row_blocks(array: Any, chunk_rows: int = CHUNK_ROWS) -> Iterator[np.ndarray]:
    """Consecutive blocks of the first axis of a zarr (or numpy) array, as numpy arrays."""
    for start in range(0, array.shape[0], chunk_rows):
        yield np.asarray(array[start : start + chunk_rows])
