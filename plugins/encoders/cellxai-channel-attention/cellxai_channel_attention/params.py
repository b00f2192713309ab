"""Parameters of the encoder and fusions (pydantic only: importing this never imports torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class BackboneParams(BaseModel):
    """The ``backbone`` encoder: one image (C, H, W) -> pooled token (D) or spatial tokens (L, D)."""

    model_config = ConfigDict(extra="forbid")

    arch: str = Field(
        "cnn3",
        pattern=r"^[a-z0-9_]+$",
        description="'cnn3' (the paper's 3-layer CNN) or a torchvision classification model name "
        "(resnet50, densenet121, vgg16, vit_b_16, ... see torchvision.models.list_models())",
    )
    width: int = Field(16, ge=1, description="cnn3 only: channels of the first conv layer (then 2x, 4x)")
    tokens: Literal["pooled", "spatial"] = Field(
        "pooled",
        description="'pooled': one token per image (global average of the last feature map); "
        "'spatial': one token per position of a grid x grid pooled feature map (for the attention fusions)",
    )
    grid: int | None = Field(
        4, ge=1, description="spatial tokens: the feature map is average-pooled to grid x grid; null keeps its size"
    )
    branches: int = Field(
        1,
        ge=1,
        description="separate backbone copies, one per position of the sample's set (RGB family with separate "
        "weights per channel: 3); 1 shares one backbone across the set",
    )
    embed_dim: int | None = Field(
        None, ge=1, description="project every token to this size with a linear layer (null: the backbone's own width)"
    )
    image_size: int | None = Field(
        None,
        ge=8,
        description="ViT only: the model's input size (images are resized to it); default 224 for ViT, "
        "ignored by convolutional backbones, which take any size",
    )
    weights: Path | None = Field(
        None,
        description="user weights: a .safetensors file or a torch state dict (read with weights_only=True), "
        "either of this encoder or of the torchvision model (its classifier keys are ignored; 3-channel "
        "first-layer weights are summed for 1-channel input)",
    )


class AttentionMLPParams(BaseModel):
    """Shared by the two attention fusions: heads and the MLP that follows the attention."""

    model_config = ConfigDict(extra="forbid")

    heads: int = Field(2, ge=1, description="attention heads per attention layer (paper: 2); must divide the token size")
    mlp: list[int] = Field(
        [1024, 512], min_length=1, description="hidden sizes of the MLP after the attention (paper: 1024, 512)"
    )
    dropout: float = Field(
        0.3, ge=0.0, lt=1.0, description="dropout after every MLP layer (MC-dropout samples these)"
    )


class ChannelAttentionParams(AttentionMLPParams):
    """``channel-attention`` (RGB family): one attention layer per pair i <= j of set positions."""

    pairs: Literal["upper", "all"] = Field(
        "upper",
        description="'upper': the S(S+1)/2 pairs i <= j (paper, S=3: R/R, G/G, B/B, R/G, R/B, G/B); "
        "'all': every ordered pair (S*S layers)",
    )


class SelfAttentionParams(AttentionMLPParams):
    """``self-attention`` (MHL family): self-attention over all tokens of a sample."""


class MeanPoolParams(BaseModel):
    """``mean-pool``: the average of the tokens, the plain-CNN (DL family) baseline."""

    model_config = ConfigDict(extra="forbid")

    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on the pooled vector (0: none)")
