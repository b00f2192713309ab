"""Human-designed features (paper §3.1): area, count and brightness of each object class, and their change.

Per image: the area fraction, number and mean brightness of the objects of each class the
dataset declares, from its pseudo-labels (:class:`.pseudo.ObjectFinder`). Per sample: the
change since the previous set position (0 on the first) and the overall trend, the
least-squares slope per step, repeated on every position so that everything folds into
one (B, S, F) array. Columns are named ``<object>_<quantity>[_change | _slope]``
(``cancer_area``, ``nucleus_count_slope``).
"""

from __future__ import annotations

from typing import Sequence

import torch

from .pseudo import QUANTITIES, ObjectFinder

KINDS = ("", "_change", "_slope")


def feature_names(objects: Sequence[str]) -> list[str]:
    """Column names for object names ``objects``: kind-major, then quantity, then object."""
    return [f"{name}_{quantity}{kind}" for kind in KINDS for quantity in QUANTITIES for name in objects]


def density_names(objects: Sequence[str]) -> list[str]:
    return [f"{name}_area" for name in objects]


def trend_names(objects: Sequence[str]) -> list[str]:
    return [f"{name}_area_slope" for name in objects]


def temporal_features(values: torch.Tensor) -> torch.Tensor:
    """(B, S, Q) per-image values -> (B, S, 3Q): values, change since the previous position, slope per step."""
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


def handcrafted_features(images: torch.Tensor, finder: ObjectFinder) -> torch.Tensor:
    """(B, S, C, H, W) images -> (B, S, F) features named by ``feature_names(finder.names)``."""
    b, s = images.shape[:2]
    return temporal_features(finder.measure(images.flatten(0, 1)).reshape(b, s, -1))
