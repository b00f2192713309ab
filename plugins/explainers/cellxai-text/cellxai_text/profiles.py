"""Per-well density and trend of each cell type, read from a run store.

Two sources, preferred in this order (``source="auto"``):

1. The temporal fusion's auxiliary heads: ``features/aux/density`` (N, S, C) and
   ``features/aux/trend`` (N, C), each with attrs ``names`` = the C cell types. The
   trend is taken to be in density units per set step, like a slope of the density.
2. The human-designed features ``features/handcrafted`` (N, S, F) with attrs ``names``,
   found by this naming convention (cell type = the part before the suffix):

   - density: ``<celltype>_density``, else ``<celltype>_area`` (area fraction),
     else ``<celltype>_count``, the first of these that exists;
   - trend: ``<density column>_slope`` (e.g. ``cancer_area_slope``), else
     ``<celltype>_slope``: a slope per set step (averaged over the set axis, where
     it is usually repeated); else the least-squares slope of the density column
     over the set positions, computed here.

   Other columns (``*_change``, ``brightness`` ...) are ignored.

A missing trend head falls back to the same slope fit. Everything is read in row
chunks so memory holds only (N, C) results, not the feature arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from cellxai_core import schema
from cellxai_core.errors import DataError

from .rows import row_blocks

AUX_DENSITY = schema.aux("density")
AUX_TREND = schema.aux("trend")
HANDCRAFTED = schema.HANDCRAFTED
DENSITY_SUFFIXES = ("_density", "_area", "_count")
SLOPE_SUFFIX = "_slope"


@dataclass
class CellProfiles:
    """What the text explainer describes: one value per well and cell type."""

    cell_types: list[str]
    density: np.ndarray  # (N, C) mean density over the set positions
    trend: np.ndarray | None  # (N, C) change per set step, None when S == 1
    level: np.ndarray  # (C,) mean density over all wells and positions: the scale of a trend
    set_size: int  # S: positions per sample (days); a trend spans S - 1 steps
    sources: dict[str, Any] = field(default_factory=dict)  # what was read, for the attrs


def read_profiles(store: Any, source: str = "auto", cell_types: Sequence[str] | None = None) -> CellProfiles:
    """Read densities and trends from ``store`` (see the module doc for the conventions)."""
    use_aux = source in ("auto", "aux") and store.has(AUX_DENSITY)
    if source == "aux" and not (store.has(AUX_DENSITY) or store.has(AUX_TREND)):
        raise DataError(
            f"template-text source 'aux': the run has no {AUX_DENSITY} or {AUX_TREND} "
            "(the fusion has no auxiliary heads); use source 'handcrafted' or 'auto'"
        )
    if use_aux:
        names = _names(store, AUX_DENSITY)
        columns = _select(names, cell_types, AUX_DENSITY)
        density_path, density_cols = AUX_DENSITY, columns
    else:
        density_path, density_cols, names = _handcrafted_density(store, cell_types)
    types = [names[c] if use_aux else _cell_type(names[c]) for c in density_cols]

    density, level, series_slope = _density_stats(store, density_path, density_cols)
    set_size = int(store.array(density_path).shape[1])
    sources: dict[str, Any] = {
        "density": density_path,
        "density_columns": [names[c] for c in density_cols],
    }
    trend, trend_source = (None, "none (one image per sample)")
    if set_size >= 2:
        trend, trend_source = _trend(store, source, types, sources["density_columns"], series_slope)
    sources["trend"] = trend_source
    return CellProfiles(types, density, trend, level, set_size, sources)


# -- density --------------------------------------------------------------------------
def _handcrafted_density(store: Any, cell_types: Sequence[str] | None) -> tuple[str, list[int], list[str]]:
    if not store.has(HANDCRAFTED):
        raise DataError(
            f"template-text: the run has neither {AUX_DENSITY} nor {HANDCRAFTED}; "
            "it needs per-image cell densities to describe the clusters"
        )
    names = _names(store, HANDCRAFTED)
    found: dict[str, int] = {}
    for suffix in reversed(DENSITY_SUFFIXES):  # later (preferred) suffixes overwrite earlier ones
        for i, name in enumerate(names):
            if name.endswith(suffix) and len(name) > len(suffix):
                found[name[: -len(suffix)]] = i
    if not found:
        raise DataError(
            f"template-text: no density column in {HANDCRAFTED} names {names}; expected names "
            f"like <celltype>{'|'.join(DENSITY_SUFFIXES)} (e.g. cancer_area, t_cell_area, dead_area)"
        )
    order = sorted(found, key=lambda t: found[t]) if cell_types is None else list(cell_types)
    missing = [t for t in order if t not in found]
    if missing:
        raise DataError(
            f"template-text cell_types {missing} have no density column in {HANDCRAFTED} "
            f"(found cell types {sorted(found)})"
        )
    return HANDCRAFTED, [found[t] for t in order], names


def _cell_type(column: str) -> str:
    for suffix in DENSITY_SUFFIXES:
        if column.endswith(suffix):
            return column[: -len(suffix)]
    return column


def _density_stats(store: Any, path: str, cols: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per-well mean density (N, C), overall mean level (C,), per-well fitted slope (N, C) or None."""
    means, slopes = [], []
    total, count = np.zeros(len(cols)), 0
    for block in _row_blocks(store, path):
        series = block[:, :, cols].astype(np.float64)  # (B, S, C)
        means.append(series.mean(axis=1))
        total += series.sum(axis=(0, 1))
        count += series.shape[0] * series.shape[1]
        if series.shape[1] >= 2:
            slopes.append(_fitted_slope(series))
    density = np.concatenate(means) if means else np.zeros((0, len(cols)))
    level = total / max(count, 1)
    return density, level, (np.concatenate(slopes) if slopes else None)


def _fitted_slope(series: np.ndarray) -> np.ndarray:
    """Least-squares slope per set step of (B, S, C) series -> (B, C)."""
    b, s, c = series.shape
    steps = np.arange(s, dtype=np.float64)
    return np.polyfit(steps, series.transpose(1, 0, 2).reshape(s, b * c), 1)[0].reshape(b, c)


# -- trend ----------------------------------------------------------------------------
def _trend(
    store: Any, source: str, types: list[str], density_columns: list[str], series_slope: np.ndarray | None
) -> tuple[np.ndarray | None, str]:
    """Per-well slope per set step (N, C) and where it came from (S >= 2 here)."""
    if source in ("auto", "aux") and store.has(AUX_TREND):
        names = _names(store, AUX_TREND)
        if all(t in names for t in types):
            cols = [names.index(t) for t in types]
            return _read_columns(store, AUX_TREND, cols), AUX_TREND
    if source != "aux" and store.has(HANDCRAFTED):
        names = _names(store, HANDCRAFTED)
        for slope_cols in ([f"{d}{SLOPE_SUFFIX}" for d in density_columns], [f"{t}{SLOPE_SUFFIX}" for t in types]):
            if all(c in names for c in slope_cols):
                cols = [names.index(c) for c in slope_cols]
                return _read_columns(store, HANDCRAFTED, cols), f"{HANDCRAFTED}:{','.join(slope_cols)}"
    return series_slope, "slope fitted to the density over the set positions"


def _read_columns(store: Any, path: str, cols: list[int]) -> np.ndarray:
    """Columns of the last axis, averaged over the set axis when the array has one -> (N, C)."""
    parts = []
    for block in _row_blocks(store, path):
        values = block[..., cols].astype(np.float64)
        parts.append(values.mean(axis=1) if values.ndim == 3 else values)
    return np.concatenate(parts) if parts else np.zeros((0, len(cols)))


# -- store helpers --------------------------------------------------------------------
def _names(store: Any, path: str) -> list[str]:
    names = store.attrs(path).get("names")
    if not names:
        raise DataError(f"template-text: {path} has no 'names' attribute naming its last axis")
    return [str(n) for n in names]


def _select(names: list[str], cell_types: Sequence[str] | None, path: str) -> list[int]:
    if cell_types is None:
        return list(range(len(names)))
    missing = [t for t in cell_types if t not in names]
    if missing:
        raise DataError(f"template-text cell_types {missing} are not in {path} names {names}")
    return [names.index(t) for t in cell_types]


def _row_blocks(store: Any, path: str) -> Iterator[np.ndarray]:
    return row_blocks(store.array(path))
