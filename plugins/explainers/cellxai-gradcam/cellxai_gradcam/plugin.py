"""Registers the ``gradcam`` and ``gmean`` explainers. No torch import here."""

from __future__ import annotations

from cellxai_core.hookspecs import Register, hookimpl

from .params import FaithfulnessParams, GmeanParams, GradCAMParams


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
