"""Params of the intensity-histogram encoder (no torch here: listing plugins stays fast)."""

from pydantic import BaseModel, ConfigDict, Field


class HistogramParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bins: int = Field(16, ge=2, le=256, description="histogram bins per channel over [0, 1]")
    bandwidth: float = Field(0.5, gt=0, description="Gaussian kernel width, in bin widths")
