"""How much memory dense Affinity Propagation needs, and how much it may use.

The engine holds three N x N float32 matrices (similarities, responsibilities,
availabilities) plus per-block work buffers; nothing else grows with N^2 (the median
needs half a matrix, but before the messages are allocated).
"""

from __future__ import annotations

import os

import torch

from cellxai_core.errors import UserError

GIB = 1024**3
FALLBACK_LIMIT_GIB = 24.0
N2_MATRICES = 3
FLOAT32_BYTES = 4


def estimate_bytes(n_samples: int, n_features: int, block_elems: int) -> int:
    """Peak bytes of one fit: 3 dense float32 N x N matrices, work blocks, features and vectors."""
    dense = N2_MATRICES * FLOAT32_BYTES * n_samples * n_samples
    blocks = 12 * min(block_elems, n_samples * n_samples) * FLOAT32_BYTES  # work groups, float64 noise / distances
    vectors = 8 * n_samples * (n_features + 64)
    return dense + blocks + vectors


def available_bytes(device: torch.device) -> int:
    """Free memory of the device: CUDA's free memory, else MemAvailable of the host, else 24 GiB."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return int(FALLBACK_LIMIT_GIB * GIB)


def max_samples(limit_bytes: int, n_features: int, block_elems: int) -> int:
    """The largest N whose estimate fits in ``limit_bytes``."""
    lo, hi = 1, 1 << 22
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if estimate_bytes(mid, n_features, block_elems) <= limit_bytes:
            lo = mid
        else:
            hi = mid - 1
    return lo


def check_fits(n_samples: int, n_features: int, block_elems: int, limit_gb: float | None, device: torch.device) -> None:
    """Refuse, before allocating, a problem that does not fit: one line naming what scales instead."""
    limit = int(limit_gb * GIB) if limit_gb is not None else available_bytes(device)
    need = estimate_bytes(n_samples, n_features, block_elems)
    if need <= limit:
        return
    source = "memory_limit_gb" if limit_gb is not None else f"available memory on {device.type}"
    raise UserError(
        f"affinity-propagation: {n_samples:,} samples need about {need / GIB:.1f} GiB "
        f"(three dense {n_samples:,} x {n_samples:,} float32 matrices) but the limit is "
        f"{limit / GIB:.1f} GiB ({source}; at most ~{max_samples(limit, n_features, block_elems):,} samples); "
        "set neighbors: auto or a k (sparse AP on a k-nearest-neighbour graph), or use clusterer 'hdbscan' or 'kmeans', "
        "which scale to large N"
    )
