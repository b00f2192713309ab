"""Which human-designed feature columns the fusion reads as inputs and predicts as targets.

Roles come from the column names the encoder gave (its ``handcrafted_names``, passed to the
fusion as ``side_names``; ``features/handcrafted`` attrs ``names`` in the run store):
``<object>_area`` columns are the densities, ``<object>_area_slope`` the trends, ``*_change`` /
``*_slope`` columns are trend inputs (dropped by ``use_trend: false``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .handcrafted import density_names, trend_names

TREND_SUFFIXES = ("_change", "_slope")


@dataclass(frozen=True)
class SideRoles:
    names: tuple[str, ...]
    density: tuple[int, ...]  # column of each object class's density, or () when absent
    trend: tuple[int, ...]  # column of each object class's trend, or ()
    objects: tuple[str, ...] = ()  # the object classes, in column order

    def inputs(self, use_trend: bool) -> tuple[int, ...]:
        """Columns fed to the model: all of them, or all but the change / slope columns."""
        return tuple(i for i, n in enumerate(self.names) if use_trend or not n.endswith(TREND_SUFFIXES))

    @classmethod
    def from_names(cls, names: list[str] | tuple[str, ...]) -> "SideRoles":
        names = tuple(names)
        objects = tuple(n[: -len("_area")] for n in names if n.endswith("_area"))
        density = tuple(names.index(n) for n in density_names(objects))
        trend = tuple(names.index(n) for n in trend_names(objects)) if set(trend_names(objects)) <= set(names) else ()
        return cls(names, density, trend, objects)


def side_roles(ctx: Any, side_dim: int, side_names: list[str] | None = None) -> SideRoles:
    """Roles from the run store's feature names, else the names the fusion was built with."""
    names: list[str] | None = None
    store = getattr(ctx, "store", None)
    if store is not None and side_dim and store.has("features/handcrafted"):
        names = list(store.attrs("features/handcrafted").get("names") or []) or None
    if names is None or len(names) != side_dim:
        names = list(side_names) if side_names and len(side_names) == side_dim else [f"feature_{i}" for i in range(side_dim)]
    return SideRoles.from_names(names)
