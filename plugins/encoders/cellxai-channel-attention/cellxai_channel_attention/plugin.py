"""cellxai registrations. Imports pydantic params only: no torch here."""

from __future__ import annotations

from cellxai_core.hookspecs import hookimpl

from .params import BackboneParams, ChannelAttentionParams, MeanPoolParams, SelfAttentionParams


@hookimpl
def cellxai_encoders(register):  # type: ignore[no-untyped-def]
    register(
        "backbone",
        summary="3-layer CNN or any torchvision classification model (resnet50, densenet121, vgg16, vit_b_16 ...)",
        params=BackboneParams,
        target="cellxai_channel_attention.encoder:BackboneEncoder",
    )


@hookimpl
def cellxai_fusions(register):  # type: ignore[no-untyped-def]
    register(
        "channel-attention",
        summary="RGB family: 2-head attention between every pair of isolated channels, concatenated, MLP 1024-512",
        params=ChannelAttentionParams,
        target="cellxai_channel_attention.attention:ChannelAttentionFusion",
    )
    register(
        "self-attention",
        summary="MHL family: 2-head self-attention over the backbone's spatial tokens, MLP 1024-512",
        params=SelfAttentionParams,
        target="cellxai_channel_attention.attention:SelfAttentionFusion",
    )
    register(
        "mean-pool",
        summary="Average of the tokens (plain CNN baseline: global average pooling, optional dropout)",
        params=MeanPoolParams,
        target="cellxai_channel_attention.attention:MeanPoolFusion",
    )
