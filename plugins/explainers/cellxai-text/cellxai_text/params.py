"""Params of the text and similarity explainers. Pydantic only: no numpy, no sklearn here.

The thresholds that choose the words are documented here because they are the
contract between the numbers and the text (the README repeats them with examples).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TemplateTextParams(BaseModel):
    """Params of ``template-text``: which features to read and when a word applies.

    Density word of a cell type in a cluster: take the cluster's median per-well density
    (mean over the set positions) and its percentile rank among *all* wells (0..1).
    ``high`` when the rank is at least ``density_high_quantile``, ``low`` when at most
    ``density_low_quantile``, ``moderate`` in between.

    Trend word: the cluster's median per-well change over the course (the least-squares
    slope per set step times the S - 1 steps from the first to the last image) divided by
    the cell type's typical level (its mean density over all wells and positions).
    ``increasing`` when this relative change is above ``trend_threshold``, ``decreasing``
    when below ``-trend_threshold``, ``stable`` otherwise. It does not depend on units.
    """

    model_config = ConfigDict(extra="forbid")

    templates: Path | None = Field(
        None,
        description="YAML template file; keys it leaves out keep the packaged defaults "
        "(cellxai_text/templates/default.yaml). None: the packaged defaults.",
    )
    source: Literal["auto", "aux", "handcrafted"] = Field(
        "auto",
        description="Where densities and trends come from: 'aux' the fusion's auxiliary heads "
        "(features/aux/density, features/aux/trend), 'handcrafted' the human-designed features "
        "(features/handcrafted columns <celltype>_area / _count / _density / _slope), "
        "'auto' aux when present, else handcrafted.",
    )
    density_high_quantile: float = Field(
        0.67, ge=0.5, le=1.0,
        description="A cluster's density is 'high' when its median well is denser than this "
        "fraction of all wells (percentile rank >= this).",
    )
    density_low_quantile: float = Field(
        0.33, ge=0.0, le=0.5,
        description="A cluster's density is 'low' when its median well's percentile rank "
        "among all wells is <= this.",
    )
    trend_threshold: float = Field(
        0.1, gt=0.0,
        description="A cluster's trend is 'increasing' ('decreasing') when its median change from "
        "the first to the last image (fitted slope x (S - 1)), divided by the cell type's mean level "
        "over all wells, is above (below minus) this; 'stable' otherwise. 0.1 = a change of 10% of "
        "the typical level over the time course.",
    )
    comparisons: int = Field(
        1, ge=1, le=6,
        description="How many of the most distinctive properties the comparison sentence names.",
    )
    cell_types: list[str] | None = Field(
        None,
        description="Cell types to describe, in this order (e.g. [cancer, t_cell, dead]); "
        "None: every cell type found in the features.",
    )

    @model_validator(mode="after")
    def _quantiles_ordered(self) -> "TemplateTextParams":
        if self.density_low_quantile >= self.density_high_quantile:
            raise ValueError(
                f"density_low_quantile ({self.density_low_quantile}) must be below "
                f"density_high_quantile ({self.density_high_quantile})"
            )
        return self


class ClusterSimilarityParams(BaseModel):
    """Params of ``cluster-similarity``: cosine similarities of cluster centres and members."""

    model_config = ConfigDict(extra="forbid")

    features: str = Field(
        "features/fused",
        description="Store path of the (N, D) feature matrix whose cosine similarities are measured.",
    )
    max_members: int = Field(
        200, ge=2,
        description="Largest intra-cluster matrix stored per cluster; bigger clusters are "
        "sampled (random_state). The per-cluster mean always uses every member.",
    )
    random_state: int = Field(0, description="Seed of the member sampling (set from the run's seed).")
