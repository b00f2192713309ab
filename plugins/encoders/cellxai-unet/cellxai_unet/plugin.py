"""Registrations of this plugin. Cheap to import: pydantic params only, no torch."""

from __future__ import annotations

from cellxai_core.hookspecs import hookimpl

from .params import ResNetParams, TemporalAttentionParams, UNetParams


@hookimpl
def cellxai_encoders(register) -> None:
    register(
        "unet",
        summary="U-Net pre-trained on HSV pseudo-label segmentation; pooled features + human-designed features",
        params=UNetParams,
        target="cellxai_unet.unet:UNetEncoder",
    )
    for depth in (18, 34):
        register(
            f"resnet{depth}",
            summary=f"torchvision ResNet-{depth} (random init or given weights), FCN-head segmentation pre-training",
            params=ResNetParams,
            target=f"cellxai_unet.resnet:ResNet{depth}Encoder",
        )


@hookimpl
def cellxai_fusions(register) -> None:
    register(
        "temporal-attention",
        summary="Multi-head attention over ordered time points with day encoding and human-designed features",
        params=TemporalAttentionParams,
        target="cellxai_unet.fusion:TemporalAttentionFusion",
    )
