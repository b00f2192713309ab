"""Pipeline-file sections of the classify task: ``classify:`` and ``uncertainty:`` (no torch here).

    classify:
      folds: 5                 # stratified k-fold cross-validation
      epochs: 20
      lr: 0.001                # SGD
      momentum: 0.9
      schedule: constant       # or cosine (decay to 0 over the epochs)
      batch_size: 16
      final_model: all         # all: train once more on every sample for the saved model | none
      preprocess:
        diffusion: {iterations: 0, kappa: 0.1, step: 0.2, conduction: exponential}
        resample: null         # [H, W] or one int: resize every image (bilinear)
      augment:                 # training folds only; the held-out fold is never augmented
        copies: 1              # augmented views of each training sample per epoch, besides the original
        rotation: 15           # degrees, uniform in [-15, 15]
        shift: 20              # pixels, uniform in [-20, 20] per axis
        flip: false            # random horizontal / vertical mirroring
        zca: false             # ZCA whitening fitted on the training fold only
        zca_epsilon: 0.1
    uncertainty:
      mc_samples: 20           # MC-dropout passes per held-out sample (0 = off)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class DiffusionSpec(BaseModel):
    """Perona–Malik anisotropic diffusion applied to every image (0 iterations = off)."""

    model_config = ConfigDict(extra="forbid")

    iterations: int = Field(0, ge=0, description="diffusion steps (0 = off)")
    kappa: float = Field(0.1, gt=0, description="edge threshold on intensity differences (images are in [0, 1])")
    step: float = Field(0.2, gt=0, le=0.25, description="integration step (<= 0.25 for stability)")
    conduction: Literal["exponential", "quadratic"] = Field(
        "exponential",
        description="Perona–Malik conduction: exp(-(|grad|/kappa)^2) favours high-contrast edges, "
        "1/(1+(|grad|/kappa)^2) wide regions",
    )


class PreprocessSpec(BaseModel):
    """Deterministic per-image preprocessing, the same for training and held-out images."""

    model_config = ConfigDict(extra="forbid")

    diffusion: DiffusionSpec = Field(default_factory=DiffusionSpec)
    resample: tuple[int, int] | None = Field(
        None, description="resize every image to [H, W] (bilinear); one int means a square; null keeps the size"
    )

    @field_validator("resample", mode="before")
    @classmethod
    def _square(cls, value: object) -> object:
        return (value, value) if isinstance(value, int) else value

    @field_validator("resample")
    @classmethod
    def _positive(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and min(value) < 8:
            raise ValueError(f"resample sizes must be >= 8 pixels, got {list(value)}")
        return value


class AugmentSpec(BaseModel):
    """Augmentation of the training folds (never the held-out fold)."""

    model_config = ConfigDict(extra="forbid")

    copies: int = Field(
        1, ge=0, description="augmented views of each training sample per epoch, besides the original (paper: 2)"
    )
    rotation: float = Field(15.0, ge=0, le=180, description="random rotation in [-rotation, rotation] degrees")
    shift: float = Field(20.0, ge=0, description="random shift in [-shift, shift] pixels, each axis")
    flip: bool = Field(False, description="also mirror horizontally and / or vertically, each with probability 1/2")
    zca: bool = Field(False, description="ZCA whitening, fitted on the training fold, applied to all its inputs")
    zca_epsilon: float = Field(0.1, gt=0, description="ZCA regulariser added to the covariance eigenvalues")


class ClassifySpec(BaseModel):
    """How the classify task trains and evaluates (stratified k-fold)."""

    model_config = ConfigDict(extra="forbid")

    folds: int = Field(5, ge=2, description="stratified k-fold cross-validation folds")
    epochs: int = Field(10, ge=1, description="training epochs per fold (and for the final model)")
    lr: float = Field(0.001, gt=0, description="SGD learning rate (paper: 0.001)")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum")
    schedule: Literal["constant", "cosine"] = Field(
        "constant", description="learning rate: constant (paper) or cosine decay to 0 over the epochs"
    )
    weight_decay: float = Field(0.0, ge=0, description="SGD weight decay (L2)")
    batch_size: int = Field(16, ge=1, description="training batch size")
    final_model: Literal["all", "none"] = Field(
        "all",
        description="'all': after cross-validation train one more model on every sample; it is the saved "
        "model the explainers use. 'none': save the last fold's model",
    )
    cache: bool = Field(
        True,
        description="read every image once and keep it in memory (N x S x C x H x W float32); "
        "false re-reads the dataset every epoch",
    )
    preprocess: PreprocessSpec = Field(default_factory=PreprocessSpec)
    augment: AugmentSpec = Field(default_factory=AugmentSpec)


class UncertaintySpec(BaseModel):
    """MC-dropout uncertainty: ``mc_samples`` stochastic passes per sample (0 = off)."""

    model_config = ConfigDict(extra="forbid")

    mc_samples: int = Field(0, ge=0, description="MC-dropout passes per held-out sample (0 = off; paper-like: 20)")


class ClassifyParams(BaseModel):
    """The task's top-level sections of a pipeline file with ``task: classify``."""

    model_config = ConfigDict(extra="forbid")

    classify: ClassifySpec = Field(default_factory=ClassifySpec, description="k-fold training and evaluation")
    uncertainty: UncertaintySpec = Field(default_factory=UncertaintySpec, description="MC-dropout uncertainty")
