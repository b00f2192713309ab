"""Params models of the built-in datasets. Pydantic only: importing this stays cheap.

The pipeline validates ``dataset.params`` against these models and calls the dataset
class with the validated fields as keyword arguments.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .objects import ObjectClass, objects_param_doc, parse_objects
from .programs import DEFAULT_PROGRAMS, PROGRAMS

SetAxisChoice = Literal["time", "channel", "image"]
Normalize = Literal["percentile", "dataset", "fixed", "dtype", "none"]
NORMALIZE_MODES = {"sample": "percentile", "dataset": "dataset", "fixed": "fixed", "dtype": "dtype", "none": "none",
                   "percentile": "percentile"}


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
    # The randomised family (issue #13): every default reproduces the wells above exactly.
    diameters: tuple[float, float, float] | None = Field(
        None, description="cell diameter in px at size 173 of cancer, T and dead cells (default ~10, 7.3, 6.8); "
        "T cells down to ~4 px make them hard to count"
    )
    touching: bool = Field(False, description="cells may touch (no gap between footprints; masks never overlap)")
    clumping: float = Field(
        1.0, gt=0.0, le=4.0, description="spread of cancer colonies relative to the default (0.3: tight clumps)"
    )
    hue_jitter: float = Field(0.0, ge=0.0, le=40.0, description="sd in degrees of a per-cell hue shift (live cells)")
    dim: float = Field(
        0.0, ge=0.0, lt=1.0, description="per-cell brightness factor uniform in [1 - dim, 1]: dim cells"
    )
    density: tuple[float, float] | None = Field(
        None, description="mid-course cells per type uniform in [low, high] (e.g. [10, 150]); changes scale "
        "with the level. Default: ~24 cancer / 24 T / 12 dead"
    )

    @field_validator("diameters")
    @classmethod
    def _positive_diameters(cls, value: tuple[float, float, float] | None) -> tuple[float, float, float] | None:
        if value is not None and not all(2.0 <= d <= 40.0 for d in value):
            raise ValueError(f"diameters must lie in [2, 40] px, got {list(value)}")
        return value

    @field_validator("density")
    @classmethod
    def _density_range(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 1.0 <= value[0] <= value[1] <= 400.0:
            raise ValueError(f"density must satisfy 1 <= low <= high <= 400, got {list(value)}")
        return value

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


class TileParams(BaseModel):
    """Cut every field into tiles; each tile is a sample (meta tile_y / tile_x)."""

    model_config = ConfigDict(extra="forbid")

    size: int | tuple[int, int] = Field(..., description="tile [height, width] in pixels (one int: square)")
    stride: int | tuple[int, int] | None = Field(None, description="step between tiles (default: the size, no overlap)")
    min_foreground: float = Field(
        0.0, ge=0.0, le=1.0,
        description="drop tiles whose fraction of foreground pixels (above a per-channel Otsu threshold estimated on an "
        "even sample of the whole dataset) is below this; 0 keeps every tile (default), 0.02-0.1 drops empty background",
    )

    @field_validator("size", "stride", mode="before")
    @classmethod
    def _as_pair(cls, value: object) -> object:
        return _pair(value) if isinstance(value, (int, list, tuple)) else value

    @model_validator(mode="after")
    def _positive(self) -> "TileParams":
        for name in ("size", "stride"):
            value = getattr(self, name)
            if value is not None and min(value) < 1:
                raise ValueError(f"tile {name} must be >= 1, got {list(value)}")
        return self


def _tile_shorthand(value: object) -> object:
    """``tile: 256`` or ``tile: [256, 128]`` is ``tile: {size: ...}``."""
    return {"size": value} if isinstance(value, (int, list, tuple)) else value


class CropCellsParams(BaseModel):
    """One sample per object of a class, centred on it (scikit-image segmentation of each field)."""

    model_config = ConfigDict(extra="forbid")

    object: str = Field(..., description="name of a declared object class (objects:) to segment and crop around")
    size: int = Field(96, ge=4, le=4096, description="crop height = width in pixels (padded at field borders)")


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
        description="percentile: per sample and channel, map [low, high] percentiles to [0, 1]; dataset: the same "
        "percentiles estimated once from an even sample of images across all files (empty tiles stay dark); fixed: "
        "map intensity_range to [0, 1]; dtype: divide integers by their maximum (uint8 / 255, uint16 / 65535), clip "
        "floats to [0, 1]; none: clip to [0, 1] only. Also as a mapping {mode: sample | dataset | fixed, percentiles, range}",
    )
    percentiles: tuple[float, float] = Field((1.0, 99.8), description="low and high percentile for 'percentile' / 'dataset'")
    intensity_range: tuple[float, float] | None = Field(
        None, description="[low, high] raw intensity mapped to [0, 1] by normalize 'fixed' (same for every channel)"
    )
    objects: list[ObjectClass] | None = Field(None, description=objects_param_doc())
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

    @model_validator(mode="before")
    @classmethod
    def _normalize_mapping(cls, data: Any) -> Any:
        """``normalize: {mode, percentiles, range}`` is the flat fields normalize / percentiles / intensity_range."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "range" in data and "intensity_range" not in data:
            data["intensity_range"] = data.pop("range")
        spec = data.get("normalize")
        if isinstance(spec, dict):
            spec = dict(spec)
            unknown = set(spec) - {"mode", "percentiles", "range"}
            if unknown:
                raise ValueError(f"normalize: unknown key(s) {sorted(unknown)}; expected mode, percentiles, range")
            mode = spec.get("mode", "sample")
            data["normalize"] = NORMALIZE_MODES.get(mode, mode) if isinstance(mode, str) else mode
            for key, field in (("percentiles", "percentiles"), ("range", "intensity_range")):
                if key in spec:
                    data[field] = spec[key]
        return data

    @field_validator("crop", "resize", mode="before")
    @classmethod
    def _as_pair(cls, value: object) -> object:
        return _pair(value) if isinstance(value, (int, list, tuple)) else value

    @field_validator("objects")
    @classmethod
    def _unique_objects(cls, value: list[ObjectClass] | None) -> list[ObjectClass] | None:
        return list(parse_objects(value) or ()) or None if value is not None else None

    @field_validator("intensity_range")
    @classmethod
    def _range_ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError(f"intensity_range must be [low, high] with low < high, got {list(value)}")
        return value

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
        if self.normalize == "fixed" and self.intensity_range is None:
            raise ValueError("normalize 'fixed' needs intensity_range: [low, high] (or normalize: {mode: fixed, range: [lo, hi]})")
        return self


class RegionParams(IntensityParams):
    """Readers that can cut fields into tiles or crops around objects."""

    tile: TileParams | None = Field(None, description="cut fields into tiles {size, stride, min_foreground}; tile: 256 is {size: 256}")
    crop_cells: CropCellsParams | None = Field(
        None, description="one sample per object {object: nucleus, size: 96}, centred on it; needs that object in objects"
    )

    @field_validator("tile", mode="before")
    @classmethod
    def _tile(cls, value: object) -> object:
        return _tile_shorthand(value)

    @model_validator(mode="after")
    def _tile_or_crop(self) -> "RegionParams":
        if self.tile is not None and self.crop_cells is not None:
            raise ValueError("give either tile or crop_cells, not both")
        if self.crop_cells is not None and self.crop_cells.object not in [o.name for o in self.objects or ()]:
            raise ValueError(f"crop_cells: object '{self.crop_cells.object}' is not declared in objects")
        return self


class ImageFolderParams(RegionParams):
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


class TiffStackParams(RegionParams):
    """One TIFF: a time-lapse or z-stack (or a single 2-D image) cut into samples by frames, tiles or cells."""

    path: str = Field(..., description="a TIFF / OME-TIFF: time-lapse (T[, C], Y, X), z-stack (Z[, C], Y, X) or one image ([C,] Y, X)")
    axis: Literal["time", "z"] = Field(
        "time", description="which stack axis the frames come from: time (T, else Z / pages) or z (Z, else pages)"
    )
    z_as: Literal["set", "samples", "max"] = Field(
        "set", description="axis z: the chosen planes are the set of one sample (set), each plane is a sample of its own "
        "(samples), or they are max-projected into one image (max)",
    )
    stride: int | tuple[int, int] | None = Field(None, description="step between tiles (same as tile.stride; kept for old files)")
    frames: int = Field(5, ge=1, description="frames per sample, evenly spread over each time window (a single 2-D image has one)")
    frame_indices: list[int] | None = Field(None, description="explicit frame / plane indices (overrides frames / windows)")
    windows: int = Field(1, ge=1, description="consecutive time windows; each tile of each window is one sample")

    @field_validator("stride", mode="before")
    @classmethod
    def _tile_pair(cls, value: object) -> object:
        return _pair(value) if isinstance(value, (int, list, tuple)) else value


class ZarrParams(RegionParams):
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


class BioioParams(RegionParams):
    """Any file a bioio reader plugin opens; its T, C, Z axes mapped to samples and the set axis, cut into tiles or crops."""

    path: str = Field(..., description="a file (or URI) any installed bioio reader opens: OME-TIFF, TIFF, OME-Zarr, ND2, CZI, LIF ...")
    set_axis: Literal["time", "channel", "image", "z"] = Field(
        "time",
        description="time: the time points are the set; channel: isolated channels (S=C, C=1); image: one multi-channel "
        "image (S=1); z: the z planes are the set. Except for time, every time point is a sample of its own",
    )
    scenes: list[int | str] | None = Field(None, description="scenes to read, by index or name (default: all; each is a sample)")
    timepoints: list[int] | None = Field(None, description="time points to read (default: all)")
    planes: list[int] | None = Field(None, description="z planes to read (default: all); max-projected unless set_axis is z")
    stride: int | tuple[int, int] | None = Field(None, description="step between tiles (same as tile.stride; kept for old files)")
    reader: str | None = Field(None, description="force a bioio reader plugin by module name, e.g. bioio_ome_tiff (default: bioio chooses)")

    @field_validator("stride", mode="before")
    @classmethod
    def _tile_pair(cls, value: object) -> object:
        return _pair(value) if isinstance(value, (int, list, tuple)) else value
