"""Pipeline-file sections of the classify task (no torch here).

Placeholder owned by the classify task work (issue 6); extend, keep names stable.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ClassifySpec(BaseModel):
    """How the classify task trains and evaluates (stratified k-fold)."""

    model_config = ConfigDict(extra="forbid")

    folds: int = Field(5, ge=2, description="stratified k-fold cross-validation folds")
    epochs: int = Field(10, ge=1)
    lr: float = Field(0.001, gt=0)
    batch_size: int = Field(16, ge=1)


class UncertaintySpec(BaseModel):
    """MC-dropout uncertainty: ``mc_samples`` stochastic passes per sample (0 = off)."""

    model_config = ConfigDict(extra="forbid")

    mc_samples: int = Field(0, ge=0)
