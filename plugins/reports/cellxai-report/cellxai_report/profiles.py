"""Per-sample measurements a biologist reads: density of each object class on each day, and its trend.

Taken from the human-designed features (measured on the images: ``<object>_density`` or
``<object>_area`` columns of ``features/handcrafted``), else from the temporal fusion's
auxiliary density heads (``features/aux/density``), else from whatever per-image
human-designed features the run has. The trend is the least-squares slope per set step
(per day for time-lapse wells) of the same values, so plot and number always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cellxai_core import schema

from .source import ReportSource

DENSITY_SUFFIXES = ("_density", "_area")
DERIVED_SUFFIXES = ("_change", "_slope")


@dataclass
class Profiles:
    values: np.ndarray  # (N, S, F)
    names: list[str]  # display names of the F measures: the object classes' labels (schema.objects)
    unit: str  # what the numbers are, for axis labels
    source: str  # which store array they come from

    @property
    def trend(self) -> np.ndarray:
        """(N, F) least-squares slope per set step."""
        s = self.values.shape[1]
        if s < 2:
            return np.zeros(self.values.shape[::2], dtype=np.float32)
        x = np.arange(s, dtype=np.float64) - (s - 1) / 2
        return np.einsum("nsf,s->nf", self.values.astype(np.float64), x / (x**2).sum()).astype(np.float32)

    @property
    def level(self) -> np.ndarray:
        """(F,) each measure's mean over all samples and set positions (its typical level)."""
        level = self.values.reshape(-1, self.values.shape[2]).mean(axis=0)
        return np.where(np.abs(level) > 1e-12, level, 1.0)

    @property
    def relative_trend(self) -> np.ndarray:
        """(N, F) slope per step in percent of the measure's typical level (as the text explainer judges trends)."""
        return 100.0 * self.trend / self.level

    @property
    def mean(self) -> np.ndarray:
        """(N, F) mean over the set."""
        return self.values.mean(axis=1)


def display_name(column: str, labels: dict[str, str] | None = None) -> str:
    """``t_cell_area`` -> the object's label from the run (``T cell``), else the name with spaces."""
    for suffix in DENSITY_SUFFIXES:
        if column.endswith(suffix):
            column = column[: -len(suffix)]
            break
    return (labels or {}).get(column) or column.replace("_", " ").strip()


def object_labels(src: ReportSource) -> dict[str, str]:
    """Object name -> label, as the encoder recorded them (root attr ``objects``)."""
    return {str(o.get("name")): str(o.get("label") or o.get("name")) for o in schema.objects(src.store)}


def load_profiles(src: ReportSource) -> Profiles | None:
    """The best per-image measurements the run has, or None."""
    density = schema.aux("density")
    labels = object_labels(src)
    if src.has(schema.HANDCRAFTED):
        names = [str(n) for n in src.attrs(schema.HANDCRAFTED).get("names", [])]
        values = src.read(schema.HANDCRAFTED)
        if values is not None and len(names) == values.shape[2]:
            for suffix in DENSITY_SUFFIXES:
                cols = [j for j, n in enumerate(names) if n.endswith(suffix) and not n.endswith(DERIVED_SUFFIXES)]
                if cols:
                    unit = "area fraction" if suffix == "_area" else "density"
                    return Profiles(values[:, :, cols], [display_name(names[j], labels) for j in cols], unit, schema.HANDCRAFTED)
    if src.has(density):
        values = src.read(density)
        names = [str(n) for n in src.attrs(density).get("names", [])] or [f"type {j}" for j in range(values.shape[2])]
        return Profiles(values, [display_name(n, labels) for n in names], "predicted density", density)
    if src.has(schema.HANDCRAFTED):
        names = [str(n) for n in src.attrs(schema.HANDCRAFTED).get("names", [])]
        values = src.read(schema.HANDCRAFTED)
        cols = [j for j, n in enumerate(names) if not n.endswith(DERIVED_SUFFIXES)][:6]
        if cols:
            return Profiles(values[:, :, cols], [names[j] for j in cols], "value", schema.HANDCRAFTED)
    return None


def cluster_signature(
    profiles: Profiles, labels: np.ndarray, clusters: list[int], step: str = "day"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Clusters x (mean density, relative trend) of each measure: medians, and their z-scores over all samples."""
    per_sample = np.concatenate([profiles.mean, profiles.relative_trend], axis=1)
    columns = [f"{n}\n{profiles.unit}" for n in profiles.names] + [f"{n}\ntrend %/{step}" for n in profiles.names]
    centre = np.median(per_sample, axis=0)
    scale = per_sample.std(axis=0)
    scale[scale < 1e-12] = 1.0
    medians = np.stack([np.median(per_sample[labels == k], axis=0) for k in clusters])
    return (medians - centre) / scale, medians, columns
