"""Human-designed features (paper §3.1): density, count and their change of each cell type.

Per image: area fraction and number of cells of each type from the HSV pseudo-labels.
Per well: the change since the previous day (0 on the first day) and the overall trend,
the least-squares slope per day, repeated on every day so that everything folds into
one (B, S, F) array.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .hsv import CELL_TYPES, pseudo_labels
from .params import PseudoLabelParams

QUANTITIES = ("area", "count")
KINDS = ("", "_change", "_slope")
HANDCRAFTED_NAMES: tuple[str, ...] = tuple(
    f"{cell}_{quantity}{kind}" for kind in KINDS for quantity in QUANTITIES for cell in CELL_TYPES
)
DENSITY_NAMES: tuple[str, ...] = tuple(f"{cell}_area" for cell in CELL_TYPES)
TREND_NAMES: tuple[str, ...] = tuple(f"{cell}_area_slope" for cell in CELL_TYPES)


def _count_cv2(masks: torch.Tensor, min_area: int) -> torch.Tensor:
    """Connected components (8-connectivity) of (M, H, W) bool masks with OpenCV, on the CPU."""
    import cv2

    arr = masks.to(torch.uint8).cpu().numpy()
    counts = np.empty(len(arr), dtype=np.float32)
    for i, mask in enumerate(arr):
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        counts[i] = np.count_nonzero(stats[1:, cv2.CC_STAT_AREA] >= min_area)
    return torch.from_numpy(counts).to(masks.device)


def _count_torch(masks: torch.Tensor, min_area: int, check_every: int = 4) -> torch.Tensor:
    """Connected components (8-connectivity) by max-label propagation, batched on any device.

    Every foreground pixel starts with its own id and repeatedly takes the largest id in
    its 3x3 neighbourhood until nothing changes; a component is then the set of pixels
    sharing an id, and it is counted when it has at least ``min_area`` pixels.
    """
    m, h, w = masks.shape
    fg = masks.unsqueeze(1).to(torch.float32)
    ids = torch.arange(1, h * w + 1, device=masks.device, dtype=torch.float32).reshape(1, 1, h, w)
    labels = ids * fg
    while True:
        before = labels
        for _ in range(check_every):
            labels = F.max_pool2d(labels, 3, stride=1, padding=1) * fg
        if torch.equal(labels, before):
            break
    flat = labels.reshape(m, -1).to(torch.int64)
    image = torch.arange(m, device=masks.device)[:, None].expand_as(flat)
    keys = (image * (h * w + 1) + flat)[flat > 0]
    uniq, sizes = torch.unique(keys, return_counts=True)
    owners = uniq[sizes >= min_area] // (h * w + 1)
    return torch.bincount(owners, minlength=m).to(torch.float32)


def count_components(masks: torch.Tensor, min_area: int = 1, backend: str = "auto") -> torch.Tensor:
    """Number of connected components per (M, H, W) mask with at least ``min_area`` pixels.

    ``auto`` uses OpenCV on the CPU (fastest there) and label propagation on a GPU
    (no host round trip).
    """
    if backend == "auto":
        backend = "cv2" if masks.device.type == "cpu" else "torch"
    if masks.shape[0] == 0:
        return torch.zeros(0, device=masks.device)
    return _count_cv2(masks, min_area) if backend == "cv2" else _count_torch(masks, min_area)


def per_image_features(labels: torch.Tensor, min_area: int = 4, backend: str = "auto") -> torch.Tensor:
    """(N, H, W) labels -> (N, 6): area fraction of cancer, T, dead, then their cell counts."""
    n = labels.shape[0]
    onehot = torch.stack([labels == k for k in range(1, len(CELL_TYPES) + 1)], dim=1)  # (N, 3, H, W)
    area = onehot.flatten(2).float().mean(dim=2)
    counts = count_components(onehot.flatten(0, 1), min_area, backend).reshape(n, len(CELL_TYPES))
    return torch.cat([area, counts], dim=1)


def temporal_features(values: torch.Tensor) -> torch.Tensor:
    """(B, S, Q) per-day values -> (B, S, 3Q): values, change since the previous day, slope per day."""
    b, s, q = values.shape
    change = torch.zeros_like(values)
    change[:, 1:] = values[:, 1:] - values[:, :-1]
    if s > 1:
        t = torch.arange(s, device=values.device, dtype=values.dtype)
        t = (t - t.mean())[None, :, None]
        slope = (t * (values - values.mean(dim=1, keepdim=True))).sum(dim=1) / (t**2).sum()
    else:
        slope = torch.zeros(b, q, device=values.device, dtype=values.dtype)
    return torch.cat([values, change, slope[:, None, :].expand(b, s, q)], dim=2)


def handcrafted_features(
    images: torch.Tensor, params: PseudoLabelParams | None = None, backend: str = "auto"
) -> torch.Tensor:
    """(B, S, C, H, W) images -> (B, S, F) features named by :data:`HANDCRAFTED_NAMES`."""
    p = params or PseudoLabelParams()
    b, s = images.shape[:2]
    labels = pseudo_labels(images.flatten(0, 1), p)
    per_image = per_image_features(labels, p.min_area, backend).reshape(b, s, -1)
    return temporal_features(per_image)
