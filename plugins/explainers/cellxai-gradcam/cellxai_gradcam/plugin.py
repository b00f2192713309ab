"""Registers the ``gradcam``, ``gmean`` and ``faithfulness`` explainers, their report sections and
``cellxai evaluate``. No torch (nor matplotlib) import here: ``cellxai --help`` loads this module."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cellxai_core.hookspecs import Register, hookimpl

from .params import FaithfulnessParams, GmeanParams, GradCAMParams

if TYPE_CHECKING:  # pragma: no cover
    import typer

BOTH = ("cluster", "classify")


@hookimpl
def cellxai_explainers(register: Register) -> None:
    register(
        "gradcam",
        summary="Grad-CAM of every image w.r.t. its cluster (linear head on frozen features) or class; optional faithfulness",
        params=GradCAMParams,
        target="cellxai_gradcam.gradcam_explainer:GradCAMExplainer",
    )
    register(
        "gmean",
        summary="Gmean-Shape and Gmean-GradCAM per cluster or class, with patch-wise Pearson correlation images",
        params=GmeanParams,
        target="cellxai_gradcam.gmean_explainer:GmeanExplainer",
    )
    register(
        "faithfulness",
        summary="Deletion AUC vs random maps, energy pointing game and model randomisation of the Grad-CAM maps",
        params=FaithfulnessParams,
        target="cellxai_gradcam.evaluate:FaithfulnessExplainer",
    )


@hookimpl
def cellxai_report_sections(register: Register) -> None:
    """The maps over the report's samples, the Gmean images, what the maps explain and whether to trust them."""
    register(
        "gmean",
        summary="What the model looks at: the typical sample of each group",
        target="cellxai_gradcam.report.gmean:render",
        tasks=BOTH,
        order=25,
    )
    register(
        "gradcam",
        summary="Where the model looks: Grad-CAM maps",
        target="cellxai_gradcam.report.maps:render",
        tasks=BOTH,
        order=60,
        maps="cellxai_gradcam.report.maps:sample_maps",
        maps_label="Grad-CAM",
        contours="cellxai_gradcam.report.maps:report_contours",
    )
    register(
        "trust",
        summary="Can the explanations be trusted?",
        target="cellxai_gradcam.report.trust:render",
        tasks=BOTH,
        order=70,
    )


@hookimpl
def cellxai_commands(cli: "typer.Typer") -> None:
    from .commands import add_commands

    add_commands(cli)
