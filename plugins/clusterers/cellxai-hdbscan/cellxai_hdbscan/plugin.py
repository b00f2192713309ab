"""Registration of ``hdbscan``. Cheap to import: no hdbscan, no scikit-learn, no torch."""

from __future__ import annotations

from cellxai_core.hookspecs import Register, hookimpl

from .params import HDBSCANParams


@hookimpl
def cellxai_clusterers(register: Register) -> None:
    register(
        "hdbscan",
        summary="HDBSCAN density clustering (noise = -1, soft membership) after PCA / t-SNE; scales to 10^5+ samples",
        params=HDBSCANParams,
        target="cellxai_hdbscan.estimator:HDBSCAN",
    )
