"""The pluggy hook specs. Each hook hands the plugin a ``register`` callback.

A plugin module implements any of these with ``@cellxai_core.hookimpl`` and calls
``register(name, summary=..., params=ParamsModel, target="pkg.module:Object")`` once per
component. Importing the plugin module must stay cheap: no torch, no heavy imports;
the target is imported only when a pipeline builds the component.
"""

from __future__ import annotations

from typing import Callable

import pluggy

PROJECT = "cellxai"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., None]


@hookspec
def cellxai_datasets(register: Register) -> None:
    """Register datasets: synthetic generators and readers of user files.

    :param register: call ``register(name, summary=..., params=..., target=...)``; the
        target is called with the validated params as keyword arguments and returns an
        object following :class:`cellxai_core.data.Dataset`.
    """


@hookspec
def cellxai_encoders(register: Register) -> None:
    """Register per-image encoders: torch modules, images (N, C, H, W) -> tokens (N, D).

    :param register: as for datasets; the target is called with the params plus
        ``in_channels=C`` and returns an :class:`cellxai_core.components.Encoder`.
    """


@hookspec
def cellxai_fusions(register: Register) -> None:
    """Register fusions across the set axis: tokens (B, S, D) [+ side (B, S, F)] -> (B, D').

    :param register: as for datasets; the target is called with the params plus
        ``token_dim=D``, ``side_dim=F`` (0 when there are no side features) and
        ``set_size=S``, and returns a :class:`cellxai_core.components.Fusion`.
    """


@hookspec
def cellxai_clusterers(register: Register) -> None:
    """Register clusterers: scikit-learn style estimators with ``fit_predict(X)``.

    :param register: as for datasets; the target is called with the params and returns
        a :class:`cellxai_core.components.Clusterer`.
    """


@hookspec
def cellxai_explainers(register: Register) -> None:
    """Register explainers that read a run and write ``explanations/<name>``.

    :param register: as for datasets; the target is called with the params and returns
        a :class:`cellxai_core.components.Explainer`.
    """


HOOKS = {
    "dataset": "cellxai_datasets",
    "encoder": "cellxai_encoders",
    "fusion": "cellxai_fusions",
    "clusterer": "cellxai_clusterers",
    "explainer": "cellxai_explainers",
}
KINDS = tuple(HOOKS)
