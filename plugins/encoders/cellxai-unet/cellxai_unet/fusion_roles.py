"""Which human-designed feature columns the fusion reads as inputs and predicts as targets.

Roles come from the column names the encoder gave (``features/handcrafted`` attrs
``names`` in the run store): ``<cell>_area`` columns are the densities, ``<cell>_area_slope``
the trends, ``*_change`` / ``*_slope`` columns are trend inputs (dropped by ``use_trend: false``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .handcrafted import DENSITY_NAMES, HANDCRAFTED_NAMES, TREND_NAMES

TREND_SUFFIXES = ("_change", "_slope")


@dataclass(frozen=True)
class SideRoles:
    names: tuple[str, ...]
    density: tuple[int, ...]  # column of each cell type's density, or () when absent
    trend: tuple[int, ...]  # column of each cell type's trend, or ()

    def inputs(self, use_trend: bool) -> tuple[int, ...]:
        """Columns fed to the model: all of them, or all but the change / slope columns."""
        return tuple(i for i, n in enumerate(self.names) if use_trend or not n.endswith(TREND_SUFFIXES))

    @classmethod
    def from_names(cls, names: list[str] | tuple[str, ...]) -> "SideRoles":
        names = tuple(names)
        density = tuple(names.index(n) for n in DENSITY_NAMES) if set(DENSITY_NAMES) <= set(names) else ()
        trend = tuple(names.index(n) for n in TREND_NAMES) if set(TREND_NAMES) <= set(names) else ()
        return cls(names, density, trend)


def side_roles(ctx: Any, side_dim: int) -> SideRoles:
    """Roles from the run store's feature names, else this plugin's own layout when the width fits."""
    names: list[str] | None = None
    store = getattr(ctx, "store", None)
    if store is not None and side_dim and store.has("features/handcrafted"):
        names = list(store.attrs("features/handcrafted").get("names") or []) or None
    if names is None or len(names) != side_dim:
        names = list(HANDCRAFTED_NAMES) if side_dim == len(HANDCRAFTED_NAMES) else [f"feature_{i}" for i in range(side_dim)]
    return SideRoles.from_names(names)
