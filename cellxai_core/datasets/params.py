"""Params models of the built-in datasets. Pydantic only: importing this stays cheap.

The pipeline validates ``dataset.params`` against these models and calls the dataset
class with the validated fields as keyword arguments.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .programs import DEFAULT_PROGRAMS, PROGRAMS

SetAxisChoice = Literal["time", "channel", "image"]
Normalize = Literal["percentile", "dtype", "none"]


def _pair(value: int | list[int] | tuple[int, int] | None) -> tuple[int, int] | None:
    """An int or a pair as (H, W)."""
    if value is None:
        return None
    if isinstance(value, int):
        return (value, value)
    items = tuple(int(v) for v in value)
    if len(items) != 2:
        raise ValueError(f"expected one int or [height, width], got {list(value)}")
    return items


class SyntheticMicrowellParams(BaseModel):
    """Synthetic CAR-T / cancer co-culture microwells imaged over several days."""

    model_config = ConfigDict(extra="forbid")

    n_wells: int = Field(256, ge=1, description="number of wells (samples); each is generated on access")
    days: int = Field(5, ge=2, le=60, description="images per well, one per day (the set axis)")
    size: int = Field(173, ge=48, le=2048, description="image height = width in pixels; cells scale with it")
    programs: list[str] = Field(
        default_factory=lambda: list(DEFAULT_PROGRAMS),
        description=f"response programs assigned to wells in balanced blocks; any of {', '.join(PROGRAMS)}",
    )
    trend: float = Field(
        1.0, ge=0.0, le=4.0, description="scale of the planted count changes over the days (0 = all programs flat)"
    )
    noise: float = Field(1.0, ge=0.0, le=5.0, description="scale of camera noise (0 = none)")
    blur: float = Field(1.0, ge=0.0, le=5.0, description="scale of optical blur (0 = sharp)")
    illumination: float = Field(
        1.0, ge=0.0, le=3.0, description="scale of per-image illumination changes (gain, gradient, vignetting)"
    )
    seed: int = Field(0, ge=0, lt=2**32, description="random seed; well i depends only on (seed, i)")

    @field_validator("programs")
    @classmethod
    def _known_programs(cls, value: list[str]) -> list[str]:
        unknown = [p for p in value if p not in PROGRAMS]
        if unknown:
            raise ValueError(f"unknown program(s) {unknown}; expected names from {list(PROGRAMS)}")
        if len(set(value)) != len(value) or not value:
            raise ValueError("programs must be a non-empty list without repeats")
        return value


class SyntheticFluorescenceParams(BaseModel):
    """Synthetic single cells stained for vimentin, actin and DNA: normal vs metastatic."""

    model_config = ConfigDict(extra="forbid")

    n_cells: int = Field(512, ge=2, description="number of cells (samples), classes balanced")
    size: int = Field(128, ge=32, le=512, description="image height = width in pixels")
    difficulty: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="0: classes far apart; 1: classes identical. 0.5: an ideal observer reaches AUC ~0.97",
    )
    set_axis: Literal["image", "channel"] = Field(
        "image", description="image: one RGB image (1, 3, H, W); channel: isolated stains (3, 1, H, W)"
    )
    seed: int = Field(0, ge=0, lt=2**32, description="random seed; cell i depends only on (seed, i)")


class IntensityParams(BaseModel):
    """Options shared by the file readers: channels, intensity scaling, geometry."""

    model_config = ConfigDict(extra="forbid")

    channels: list[str] | None = Field(
        None, description="output channel names, in order (default: names from the files or c0, c1, ...)"
    )
    channel_map: dict[str, str] | None = Field(
        None,
        description="source channel -> output name, in output order; the source is the channel value of a "
        "file name / manifest row, or the channel index ('0', '1', ...) inside a multi-channel file; "
        "unmapped channels are dropped",
    )
    normalize: Normalize = Field(
        "percentile",
        description="percentile: per channel, map [low, high] percentiles to [0, 1]; dtype: divide integers by "
        "their maximum (uint8 / 255, uint16 / 65535), clip floats to [0, 1]; none: clip to [0, 1] only",
    )
    percentiles: tuple[float, float] = Field((1.0, 99.8), description="low and high percentile for 'percentile'")
    normalize_over: Literal["sample", "image"] = Field(
        "sample",
        description="percentiles over all images of a sample (keeps changes over time) or over each image",
    )
    crop: int | tuple[int, int] | None = Field(None, description="centre crop to [height, width] before resizing")
    resize: int | tuple[int, int] | None = Field(None, description="resize to [height, width] (area / linear)")
    max_pixels: int = Field(
        1 << 26, ge=1,
        description="largest image (height x width, before crop / resize) read whole; larger ones are refused when the "
        "dataset opens, before any pixel is decoded, so memory stays bounded (default 67 M = 8,192 x 8,192)",
    )

    @field_validator("crop", "resize", mode="before")
    @classmethod
    def _as_pair(cls, value: object) -> object:
        return _pair(value) if isinstance(value, (int, list, tuple)) else value

    @field_validator("percentiles")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0.0 <= low < high <= 100.0:
            raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {list(value)}")
        return value

    @model_validator(mode="after")
    def _one_naming(self) -> "IntensityParams":
        if self.channels is not None and self.channel_map is not None:
            raise ValueError("give either channels (names) or channel_map (source -> name), not both")
        return self


class ImageFolderParams(IntensityParams):
    """Image files in a folder, grouped into samples by a CSV manifest or a file-name pattern."""

    path: str = Field(..., description="a folder of images, or a CSV manifest (columns sample, path, [time | channel])")
    pattern: str | None = Field(
        None,
        description="file-name pattern relative to the folder, e.g. '{well}_{day}.tif' or '{sample}_{channel}.png'; "
        "fields day/time/t/frame make the time axis, channel/c/stain the channel axis, the others name the sample",
    )
    set_axis: SetAxisChoice | None = Field(
        None,
        description="time: files of a sample are time points; channel: files are isolated channels (S=C, C=1); "
        "image: channel files are merged into one multi-channel image (S=1). Default: from the pattern / manifest",
    )


class TiffStackParams(IntensityParams):
    """One multi-page TIFF time-lapse cut into many samples by tiling and frame choice."""

    path: str = Field(..., description="a multi-page TIFF / OME-TIFF time-lapse (T[, C], Y, X)")
    tile: int | tuple[int, int] | None = Field(None, description="tile [height, width] (default: the whole frame)")
    stride: int | tuple[int, int] | None = Field(None, description="step between tiles (default: the tile size)")
    frames: int = Field(5, ge=1, description="frames per sample, evenly spread over each time window")
    frame_indices: list[int] | None = Field(None, description="explicit frame indices (overrides frames / windows)")
    windows: int = Field(1, ge=1, description="consecutive time windows; each tile of each window is one sample")

    @field_validator("tile", "stride", mode="before")
    @classmethod
    def _tile_pair(cls, value: object) -> object:
        return _pair(value) if isinstance(value, (int, list, tuple)) else value


class ZarrParams(IntensityParams):
    """A Zarr / OME-Zarr array (N, S, C, H, W) or an OME-Zarr HCS plate (row / column / field)."""

    path: str = Field(..., description="a .zarr store: an array, a group holding one, an OME-Zarr image or plate")
    array: str | None = Field(None, description="path of the array inside the store (default: the root or 'images')")
    set_axis: SetAxisChoice | None = Field(
        None,
        description="for OME-Zarr images / plates: time (the t axis is the set), channel (isolated channels), "
        "image (one image per field). Arrays (N, S, C, H, W) default to time",
    )
    normalize: Normalize = Field(
        "dtype",
        description="percentile: per channel [low, high] percentiles to [0, 1]; dtype: integers / their maximum, "
        "floats clipped to [0, 1]; none: clip only",
    )


class BioioParams(IntensityParams):
    """Any file a bioio reader plugin opens; its T, C, Z axes mapped to samples and the set axis."""

    path: str = Field(..., description="a file (or URI) any installed bioio reader opens: OME-TIFF, TIFF, OME-Zarr, ND2, CZI, LIF ...")
    set_axis: Literal["time", "channel", "image", "z"] = Field(
        "time",
        description="time: the time points are the set; channel: isolated channels (S=C, C=1); image: one multi-channel "
        "image (S=1); z: the z planes are the set. Except for time, every time point is a sample of its own",
    )
    scenes: list[int | str] | None = Field(None, description="scenes to read, by index or name (default: all; each is a sample)")
    timepoints: list[int] | None = Field(None, description="time points to read (default: all)")
    planes: list[int] | None = Field(None, description="z planes to read (default: all); max-projected unless set_axis is z")
    tile: int | tuple[int, int] | None = Field(None, description="tile [height, width]: each tile of a scene is a sample (default: the whole scene)")
    stride: int | tuple[int, int] | None = Field(None, description="step between tiles (default: the tile size)")
    reader: str | None = Field(None, description="force a bioio reader plugin by module name, e.g. bioio_ome_tiff (default: bioio chooses)")

    @field_validator("tile", "stride", mode="before")
    @classmethod
    def _tile_pair(cls, value: object) -> object:
        return _pair(value) if isinstance(value, (int, list, tuple)) else value
