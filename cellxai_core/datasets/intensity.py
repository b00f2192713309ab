"""Turning raw pixels into what the pipeline expects: chosen channels, size, float32 in [0, 1].

Shared by the file readers. A sample's raw images are (S, C, H, W) in their own dtype;
:class:`Transform` selects / orders channels, crops and resizes, then scales intensities
per channel (over the whole sample by default, so changes over time survive).
"""

from __future__ import annotations

import warnings

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from cellxai_core.errors import ConfigError, DataError

PERCENTILE_SAMPLES = 1 << 16


def default_channel_names(count: int, rgb: bool = False) -> tuple[str, ...]:
    if rgb and count == 3:
        return ("red", "green", "blue")
    if count == 1:
        return ("gray",)
    return tuple(f"c{i}" for i in range(count))


def select_channels(
    source: Sequence[str],
    channels: Sequence[str] | None,
    channel_map: dict[str, str] | None,
    where: str,
) -> tuple[list[int], tuple[str, ...]]:
    """Indices into ``source`` (channel keys: file-name values or '0', '1', ...) and output names."""
    source = [str(s) for s in source]
    if channel_map:
        missing = [k for k in channel_map if k not in source]
        if missing:
            raise ConfigError(f"{where}: channel_map names {missing} but the channels found are {source}")
        return [source.index(k) for k in channel_map], tuple(channel_map.values())
    if channels is not None:
        if len(channels) != len(source):
            raise ConfigError(f"{where}: channels lists {len(channels)} names but the data have {len(source)} channels {source}")
        return list(range(len(source))), tuple(channels)
    return list(range(len(source))), tuple(source)


def _pair(value: Sequence[int] | int | None) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[1]))


MAX_PIXELS = 1 << 26  # 67 megapixels (8,192 x 8,192) per decoded image: a few GB as float32 samples


@dataclass(frozen=True)
class Transform:
    """Geometry and intensity options of a reader (see :class:`~.params.IntensityParams`)."""

    normalize: str = "percentile"
    percentiles: tuple[float, float] = (1.0, 99.8)
    normalize_over: str = "sample"
    crop: tuple[int, int] | None = None
    resize: tuple[int, int] | None = None
    max_pixels: int = MAX_PIXELS
    intensity_range: tuple[float, float] | None = None  # normalize "fixed"
    limits: tuple[tuple[float, ...], tuple[float, ...]] | None = None  # normalize "dataset": per-channel low / high

    @classmethod
    def from_params(cls, normalize: str, percentiles: Sequence[float], normalize_over: str, crop, resize,
                    max_pixels: int = MAX_PIXELS, intensity_range: Sequence[float] | None = None) -> "Transform":
        fixed = (float(intensity_range[0]), float(intensity_range[1])) if intensity_range is not None else None
        if normalize == "fixed" and fixed is None:
            raise ConfigError("normalize 'fixed' needs intensity_range: [low, high]")
        return cls(normalize, (float(percentiles[0]), float(percentiles[1])), normalize_over, _pair(crop), _pair(resize),
                   max_pixels, fixed)

    def check_pixels(self, height: int, width: int, where: object) -> None:
        """Refuse, before anything is decoded, an empty image or one whose pixels would not fit the memory bound."""
        if height < 1 or width < 1:
            raise DataError(f"{where}: the image is {height} x {width} pixels: it has no pixels to read")
        if height * width > self.max_pixels:
            raise DataError(
                f"{where}: {height} x {width} = {height * width / 1e6:.0f} megapixels per image, above max_pixels "
                f"{self.max_pixels / 1e6:.0f} M; read it in tiles: add tile: {{size: 256}} to the dataset params "
                "(or raise max_pixels if the memory allows)"
            )

    def output_size(self, height: int, width: int, where: object = "image") -> tuple[int, int]:
        """(H, W) after crop and resize of an image of (height, width), which must fit ``max_pixels``."""
        self.check_pixels(height, width, where)
        if self.resize is not None:
            return self.resize
        if self.crop is not None:
            return (min(self.crop[0], height), min(self.crop[1], width))
        return (height, width)

    def geometry(self, images: np.ndarray) -> np.ndarray:
        """Centre crop then resize (S, C, H, W) float32 images."""
        s, c, h, w = images.shape
        if self.crop is not None:
            ch, cw = min(self.crop[0], h), min(self.crop[1], w)
            top, left = (h - ch) // 2, (w - cw) // 2
            images = images[:, :, top : top + ch, left : left + cw]
            h, w = ch, cw
        if self.resize is not None and (h, w) != self.resize:
            import cv2

            th, tw = self.resize
            interp = cv2.INTER_AREA if th < h or tw < w else cv2.INTER_LINEAR
            flat = images.reshape(s * c, h, w)
            images = np.stack([cv2.resize(img, (tw, th), interpolation=interp) for img in flat]).reshape(s, c, th, tw)
        return np.ascontiguousarray(images, dtype=np.float32)

    def scale(self, raw: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """Intensities of (S, C, H, W) float32 to [0, 1]; ``dtype`` is the files' own dtype."""
        if self.normalize == "dtype":
            if np.issubdtype(dtype, np.integer):
                out = raw / np.float32(np.iinfo(dtype).max)
            else:
                out = raw
        elif self.normalize in ("percentile", "dataset", "fixed"):
            low, high = self._limits(raw)
            with np.errstate(invalid="ignore"):  # NaN pixels (and all-NaN channels) become 0 below
                out = (raw - low) / np.where(high > low, high - low, 1.0)
        else:
            out = raw
        return np.nan_to_num(np.clip(out, 0.0, 1.0), nan=0.0).astype(np.float32, copy=False)  # NaN pixels read as 0

    def _limits(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Low / high percentiles per channel (per image and channel for ``normalize_over="image"``),
        shaped to broadcast over (S, C, H, W); estimated from an even subsample of at most
        ``PERCENTILE_SAMPLES`` pixels per group, which keeps large images fast."""
        s, c = raw.shape[:2]
        if self.normalize == "fixed" and self.intensity_range is not None:
            return np.full((1, c, 1, 1), self.intensity_range[0], np.float32), np.full((1, c, 1, 1), self.intensity_range[1], np.float32)
        if self.normalize == "dataset":
            if self.limits is None:
                raise RuntimeError("normalize 'dataset' before the dataset's percentiles were estimated")
            low_c, high_c = (np.asarray(v, np.float32).reshape(1, c, 1, 1) for v in self.limits)
            return low_c, high_c
        groups = raw.transpose(1, 0, 2, 3).reshape(c, -1) if self.normalize_over == "sample" else raw.reshape(s * c, -1)
        step = max(1, -(-groups.shape[1] // PERCENTILE_SAMPLES))
        with warnings.catch_warnings():  # an all-NaN channel gives NaN limits and reads as 0 (scale): no warning line
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = np.nanpercentile(groups[:, ::step], self.percentiles, axis=1)  # NaN pixels do not poison a channel
        shape = (1, c, 1, 1) if self.normalize_over == "sample" else (s, c, 1, 1)
        return low.reshape(shape).astype(np.float32), high.reshape(shape).astype(np.float32)

    def apply(self, raw: np.ndarray, dtype: np.dtype) -> np.ndarray:
        """Raw (S, C, H, W) in any dtype -> float32 (S, C, H', W') in [0, 1]."""
        with np.errstate(over="ignore"):  # float64 beyond float32's range becomes +-inf, clipped like any bright pixel
            return self.scale(self.geometry(raw.astype(np.float32, copy=False)), dtype)
