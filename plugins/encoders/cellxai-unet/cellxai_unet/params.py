"""Params of every component of this plugin. Pydantic only: no torch import here."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class PseudoLabelParams(BaseModel):
    """Pseudo-labels of the dataset's object classes (its ``objects``: channel or hue / saturation, diameter)."""

    model_config = ConfigDict(extra="forbid")

    threshold: Literal["dataset", "image"] | float = Field(
        "dataset",
        description="Foreground threshold on each class's background-free brightness: dataset = Otsu on a sample "
        "of the dataset's images, calibrated once and stored (empty tiles stay empty, tiles inside one large "
        "object stay full; needs a normalisation shared by all images); image = Otsu per image (images of "
        "unrelated exposure); a number = that value for every class.",
    )
    calibration_samples: int = Field(
        16, ge=1, description="Samples whose images calibrate auto diameters and dataset thresholds."
    )

    @field_validator("threshold")
    @classmethod
    def _unit(cls, value: Any) -> Any:
        if isinstance(value, float) and not 0 <= value <= 1:
            raise ValueError(f"threshold must be dataset, image or a number in [0, 1], got {value}")
        return value


class PretrainParams(BaseModel):
    """Segmentation pre-training shared by the U-Net and ResNet encoders."""

    model_config = ConfigDict(extra="forbid")

    pretrain: bool = Field(True, description="Pre-train on segmentation before encoding.")
    pretrain_on: Literal["pseudo", "truth"] = Field(
        "pseudo",
        description="Segmentation targets: pseudo-labels of the dataset's object classes (no annotation needed) "
        "or its truth masks (only when it has them, labelled 1..K in the order of its objects).",
    )
    optimizer: Literal["adam", "adamw", "sgd"] = Field(
        "adam",
        description="Adam by default: the paper's SGD at lr 1e-4 for 100 iterations barely moves a "
        "randomly initialised U-Net; set optimizer: sgd, lr: 1e-4 to reproduce the paper exactly.",
    )
    lr: float = Field(
        1e-2, gt=0,
        description="Peak learning rate (paper: 1e-4 with SGD). At 1e-3 the demo's U-Net segmented well (Dice 0.97) "
        "but left 38 % cell probability on every background pixel after 150 steps, so maps read from its "
        "probabilities spread over the background.",
    )
    schedule: Literal["one-cycle", "constant"] = Field(
        "one-cycle",
        description="one-cycle = warm up to lr over the first 10 % of the steps, then anneal to ~0 (stable at a high lr, "
        "confident at the end); constant = lr throughout (the paper's setting).",
    )
    weight_decay: float = Field(1e-4, ge=0, description="Weight decay (paper: 1e-4).")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum (ignored by Adam).")
    batch_size: int = Field(16, ge=1, description="Images per pre-training step (paper: 16).")
    iterations: int = Field(150, ge=0, description="Pre-training steps (paper: 100).")
    train_samples: int = Field(
        32, ge=1,
        description="Samples read once for pre-training (their images are cropped, flipped and turned at random "
        "every step); a fixed pool keeps pre-training cost independent of the dataset size.",
    )
    crop: int | None = Field(
        96, ge=16,
        description="Train on random square crops of this size (the networks are fully convolutional, so "
        "this only makes a step cheaper: 96 px is a third of the work of 173 px); null = whole images.",
    )
    eval_wells: int = Field(
        8, ge=0,
        description="Samples held out of pre-training and scored against truth masks when the dataset has them.",
    )
    pseudo_labels: PseudoLabelParams = Field(
        default_factory=PseudoLabelParams, description="Pseudo-label thresholds (also used by the human-designed features)."
    )
    weights: str | None = Field(
        None, description="Start from these weights (.safetensors or a torch state dict, loaded with weights_only=True)."
    )
    seed: int = Field(0, description="Seed of initialisation and pre-training (the run's seed unless set).")


class UNetParams(PretrainParams):
    """The ``unet`` encoder."""

    base_channels: int = Field(16, ge=2, le=256, description="Channels of the first level; doubled at each level.")
    depth: int = Field(3, ge=1, le=6, description="Number of down-sampling steps (173 px -> 21 px bottleneck at depth 3).")
    decoder_tokens: bool = Field(
        True,
        description="Tokens = pooled bottleneck + the pooled object-class masks of the segmentation head (the "
        "U-Net's own area fractions; Grad-CAM reads those masks at full resolution); false = pooled bottleneck "
        "only (Grad-CAM reads the bottleneck).",
    )


class ResNetParams(PretrainParams):
    """The ``resnet18`` / ``resnet34`` encoders (torchvision, random init unless ``weights``)."""

    pretrain: bool = Field(
        True, description="Pre-train with a light FCN head on segmentation before encoding (as the U-Net)."
    )


class TemporalAttentionParams(BaseModel):
    """The ``temporal-attention`` fusion."""

    model_config = ConfigDict(extra="forbid")

    heads: int = Field(4, ge=1, description="Attention heads.")
    dim: int = Field(32, ge=4, description="Width of the per-day tokens inside the fusion (divisible by heads).")
    latent_dim: int = Field(32, ge=2, description="Size of the latent vector the density and trend heads read.")
    positional: Literal["sinusoidal", "learned", "none"] = Field(
        "sinusoidal", description="Day (positional) encoding added to each time point's token."
    )
    use_handcrafted: bool = Field(True, description="Feed the human-designed features as extra input.")
    use_trend: bool = Field(
        True, description="Use the change / slope features (input and trend head); false = densities only."
    )
    temporal: bool = Field(
        True, description="Attention over the ordered time points; false = mean over time points (ablation)."
    )
    vector: Literal["noise_units", "states"] = Field(
        "noise_units",
        description="The fused vector. noise_units: each well's predicted trend per object class in standard "
        "errors of a slope due to day-to-day noise, then each day's predicted density minus the well's mean in "
        "units of the typical deviation (both units estimated from the data, no constant to tune). states: the "
        "round-1 hand-thresholded vector tanh((trend / (trend_threshold * SE))**3) + shape_weight x shape.",
    )
    changes: Literal["auto", "relative", "absolute"] = Field(
        "auto",
        description="vector: noise_units. relative: each object class's trajectory divided by the well's own level "
        "(its mean over the time points, plus relative_floor x the median level over wells), so that wells seeded "
        "with 10 or 40 cells that follow one program get one vector (growth and killing proportional to the cells "
        "there); absolute: changes in area fraction (changes of a fixed size); auto: whichever of the two groups "
        "better (the higher best k-means silhouette over k = 2..10), recorded in the fusion's metrics.",
    )
    relative_floor: float = Field(
        0.1, ge=0,
        description="changes: relative. Added to every well's level, in units of the median level over wells, so "
        "that an object class nearly absent from a well does not turn its noise into huge relative changes.",
    )
    trend_threshold: float = Field(
        4.0, gt=0,
        description="vector: states only. In the fused vector a predicted trend becomes 'increasing' / 'decreasing' (about +1 / -1, "
        "'stable' about 0) when it exceeds this many standard errors of the slope due to day-to-day noise: "
        "tanh((trend / (threshold * SE))**3).",
    )
    shape_weight: float = Field(
        0.25, ge=0,
        description="vector: states only. Weight of each day's predicted density minus the well's mean "
        "(the ordered course, in units of the typical deviation); 0 = trend states only.",
    )
    epochs: int = Field(300, ge=0, description="Training epochs of the fusion on the frozen tokens.")
    lr: float = Field(3e-3, gt=0, description="Adam learning rate.")
    weight_decay: float = Field(1e-4, ge=0, description="Adam weight decay.")
    batch_size: int = Field(256, ge=1, description="Wells per training step.")
    seed: int = Field(0, description="Seed of initialisation and training (the run's seed unless set).")

    @model_validator(mode="after")
    def _divisible(self) -> "TemporalAttentionParams":
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        return self
