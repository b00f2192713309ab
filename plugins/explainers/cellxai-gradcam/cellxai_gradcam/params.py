"""Params of the explainers in this plugin. Pydantic only: importing this must not import torch."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

GMEAN_EPSILON = 1.0 / 255.0


class FaithfulnessParams(BaseModel):
    """How faithfulness of the Grad-CAM maps is measured (``cellxai evaluate`` and ``gradcam`` with ``faithfulness: true``)."""

    model_config = ConfigDict(extra="forbid")

    n_samples: int = Field(32, ge=1, description="samples (drawn with the seed) on which faithfulness is measured")
    deletion_steps: int = Field(
        10, ge=2, description="steps of the deletion curve (fractions 0, 1/n, ..., 1 of the pixels); costs 2 (n + 1) forwards per batch"
    )
    deletion_baseline: Literal["zero", "blur"] = Field(
        "zero",
        description="what deleted pixels become: 0 (the dark background of fluorescence images: the evidence is gone) "
        "or the image's Gaussian-blurred version (sigma = 10% of the image side; keeps coarse intensity)",
    )
    randomization: bool = Field(True, description="run the cascading model-randomisation sanity check")
    road: bool = Field(True, description="ROAD (Rong et al. 2022): remove pixels by noisy linear imputation, MoRF / LeRF vs random maps")
    road_percentages: list[float] = Field(
        [10.0, 30.0, 50.0], min_length=1,
        description="percentages of the pixels removed at each ROAD step; each costs a sparse solve per image and map "
        "(~0.1 s CPU to remove half of a demo image, 173 x 173, along its Grad-CAM map)",
    )
    road_lerf: bool = Field(True, description="also the LeRF curve (least relevant pixels first; doubles ROAD's cost)")
    road_noise: float = Field(0.01, ge=0, description="std of the Gaussian noise added to ROAD's imputed pixels (Quantus' default)")
    sensitivity_samples: int = Field(
        3, ge=0, description="noisy copies of each input for the average sensitivity (0: not measured); each costs a Grad-CAM"
    )
    sensitivity_radius: float = Field(
        0.02, gt=0, description="average sensitivity: uniform noise in [-r, r] on every input value (images in [0, 1])"
    )
    batch_size: int = Field(8, ge=1, description="samples per forward / Grad-CAM batch")
    seed: int | None = Field(None, description="seed of the subsample, random maps and re-initialised weights (default: the run's)")

    @field_validator("road_percentages")
    @classmethod
    def _inside(cls, value: list[float]) -> list[float]:
        if any(not 0 < p < 100 for p in value):
            raise ValueError("ROAD percentages must lie strictly between 0 and 100 (some pixel must be kept to impute from)")
        return value


class GradCAMParams(FaithfulnessParams):
    """Grad-CAM of every image of every sample, w.r.t. its cluster (linear head on frozen features) or class."""

    target: Literal["auto", "predicted", "true_class"] = Field(
        "auto",
        description="auto: each sample's own cluster (task cluster) or its predicted class (task classify); "
        "predicted: the head's top class; true_class: samples/truth/class",
    )
    method: Literal["gradcam", "gradcam++", "hirescam"] = Field(
        "gradcam",
        description="channel weighting: gradcam (mean gradient), gradcam++ (Chattopadhay et al.) or hirescam "
        "(element-wise gradient x activation); all match pytorch-grad-cam 1.5",
    )
    layer: str | None = Field(
        None, description="dotted module path inside the sample model (e.g. encoder.backbone.layer4); default: the encoder's cam_layer"
    )
    head_max_iter: int = Field(200, ge=1, description="L-BFGS iterations of the linear head (task cluster)")
    head_weight_decay: float = Field(1e-3, ge=0, description="L2 penalty on the linear head's weights (standardised features)")
    faithfulness: bool = Field(False, description="also measure the faithfulness metrics and their verdicts (as cellxai evaluate); stored under faithfulness/")
    contours: bool = Field(
        False, description="report: draw the outlines of the dataset's object masks (truth masks) over the Grad-CAM "
        "overlays of the gradcam section (display only: the maps are computed everywhere)",
    )


class GmeanParams(BaseModel):
    """Gmean-Shape and Gmean-GradCAM per group, and their patch-wise Pearson correlation image."""

    model_config = ConfigDict(extra="forbid")

    weights: Literal["uniform", "target_prob"] = Field(
        "uniform", description="image weights of the geometric mean: 1 each, or the softmax probability of the explained target"
    )
    epsilon: float = Field(
        GMEAN_EPSILON,
        gt=0,
        description="added before the log and subtracted after: Gmean = exp(sum w ln(x + eps) / sum w) - eps (default one 8-bit grey level)",
    )
    radius: int = Field(2, ge=1, description="correlation patch is (2r+1) x (2r+1) pixels around each pixel (paper: r = 2)")
    threshold: float = Field(0.5, gt=0, lt=1, description="|rho| above which a pixel counts as positively / negatively correlated")
    batch_size: int = Field(16, ge=1, description="samples per batch while accumulating")
