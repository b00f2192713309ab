"""The k-nearest-neighbour graph sparse Affinity Propagation passes its messages on.

Two backends, chosen by size, because neither is good at both ends:

- below ``EXACT_BELOW`` samples, scikit-learn's exact brute-force search (chunked, so
  memory stays O(n * chunk); ~0.6 s at 10,000 x 16 on one core): exact, deterministic
  and free of pynndescent's JIT compilation, which costs ~60 s per process on a busy
  2-core machine (its ``nn_descent`` is compiled with ``cache=False``);
- from ``EXACT_BELOW`` up, pynndescent's NN-descent (~8 s at 100,000 x 16 on one core
  once compiled), approximate but near exact on clustered data, and
  O(n k) in memory. Exact search is O(n^2) in time (a KD-tree took 200 s at 100,000
  points of 16-d blobs), which is what the sparse mode is there to avoid.
"""

from __future__ import annotations

import numpy as np

EXACT_BELOW = 20_000


def knn_graph(X: np.ndarray, k: int, *, random_state: int | None = 0, exact_below: int = EXACT_BELOW) -> np.ndarray:
    """(N, k) int64 indices of each point's k nearest other points (euclidean), nearest first.

    The point itself is left out, even when a duplicate makes it tie with another point.
    """
    n = len(X)
    if not 1 <= k < n:
        raise ValueError(f"knn_graph: need 1 <= k < N, got k={k}, N={n}")
    if n < exact_below:
        indices = _exact(X, k)
    else:
        indices = _nn_descent(X, k, random_state)
    return indices.astype(np.int64)


def _exact(X: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    _, idx = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(X).kneighbors(X)
    return _drop_self(idx, k)


def _nn_descent(X: np.ndarray, k: int, random_state: int | None) -> np.ndarray:
    import pynndescent

    index = pynndescent.NNDescent(
        np.ascontiguousarray(X, dtype=np.float32), n_neighbors=k + 1, metric="euclidean",
        random_state=random_state, n_jobs=None, compressed=True,
    )
    idx, _ = index.neighbor_graph
    return _drop_self(idx, k)


def _drop_self(idx: np.ndarray, k: int) -> np.ndarray:
    """Remove each row's own index (usually first; anywhere, or absent, with duplicates); keep k."""
    n = len(idx)
    own = idx == np.arange(n)[:, None]
    own[~own.any(axis=1), -1] = True  # self not found: drop the farthest instead
    first = own & (np.cumsum(own, axis=1) == 1)
    return idx[~first].reshape(n, -1)[:, :k]
