"""Pseudo-labels for any object classes a dataset declares, batched in torch (paper §3.1, generalised).

Per class, per image: the class's brightness (its channel, or HSV value V for classes found
by hue / saturation), minus the local background (a grey top-hat whose radius is the
object's diameter, so the well disc, uneven illumination and anything much larger than an
object go; objects too large for their image keep their brightness), restricted to the
class's colour (hue / saturation of the lightly smoothed RGB); foreground = above the
class's threshold; objects are counted as LoG maxima at the class's scale inside the
foreground (:mod:`.blobs`), so touching objects count as two.

Calibration (once, on a sample of images; stored in buffers, so the saved state dict and a
resumed run keep it): ``diameter: auto`` is estimated by scale selection, and each class's
threshold is Otsu's on the pooled background-free signal of that sample. A threshold
over the dataset rather than per image keeps empty tiles empty and tiles that lie
inside one large object full; ``threshold: image`` thresholds every image on its own.
Classes are painted into one label map in declaration order, later over earlier (a
nucleus over its cell): 0 background, k + 1 the k-th class.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from cellxai_core.errors import DataError

from .blobs import count_objects, estimate_diameter, gaussian_blur, single_object_area
from .hsv import as_rgb, otsu_thresholds, rgb_to_hsv, top_hat
from .params import PseudoLabelParams

QUANTITIES = ("area", "count", "intensity")
MAX_CALIBRATION_PIXELS = 2_000_000


def _in_hue(hue: torch.Tensor, bounds: tuple[float, float]) -> torch.Tensor:
    lo, hi = bounds
    return (hue >= lo) & (hue < hi) if lo <= hi else (hue >= lo) | (hue < hi)


class ObjectFinder(nn.Module):
    """Segments, counts and measures the declared object classes; calibrated once on a sample."""

    def __init__(self, objects: Sequence[Any], channels: Sequence[str], params: PseudoLabelParams | None = None) -> None:
        super().__init__()
        self.objects = tuple(objects)
        self.params = params or PseudoLabelParams()
        self.names = [o.name for o in self.objects]
        self.channel = [o.channel_index(channels) if o.channel is not None else -1 for o in self.objects]
        if any(c < 0 for c in self.channel) and len(channels) not in (2, 3):
            colour = next(o.name for o, c in zip(self.objects, self.channel) if c < 0)
            raise DataError(
                f"object '{colour}' is found by hue / saturation, which needs RGB images; these have "
                f"{len(channels)} channel(s) ({', '.join(channels)}): give it a channel instead"
            )
        given = [0.0 if o.diameter == "auto" else float(o.diameter) for o in self.objects]
        self.register_buffer("diameter", torch.tensor(given, dtype=torch.float32))  # 0: auto, not yet estimated
        self.register_buffer("threshold", torch.full((len(self.objects),), -1.0))  # -1: not yet calibrated
        self.register_buffer("single_area", torch.zeros(len(self.objects)))  # px of one object; 0: count maxima only

    @property
    def calibrated(self) -> bool:
        return bool((self.diameter > 0).all()) and (self.params.threshold != "dataset" or bool((self.threshold >= 0).all()))

    # -- per-class signals ----------------------------------------------------------------
    def _colour(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        """V of the raw RGB, hue and saturation of the RGB smoothed at a tenth of the smallest colour class."""
        colour = [k for k, c in enumerate(self.channel) if c < 0]
        if not colour:
            return None
        rgb = as_rgb(images)
        value = rgb.max(dim=1).values.clamp(0, 1)
        sigma = max(0.5, min(float(self.diameter[k]) or 8.0 for k in colour) / 10)
        smooth = gaussian_blur(rgb.flatten(0, 1), sigma).reshape(rgb.shape)
        hue, sat, _ = rgb_to_hsv(smooth)
        return value, hue, sat

    def _raw(self, images: torch.Tensor, k: int, colour: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Brightness (N, H, W) of class k and where its colour matches (N, H, W) bool, or None for all."""
        c = self.channel[k]
        if c >= 0:
            return images[:, c], None
        obj, (value, hue, sat) = self.objects[k], colour
        member = torch.ones_like(value, dtype=torch.bool)
        if obj.hue is not None:
            member &= _in_hue(hue, obj.hue)
        if obj.saturation is not None:
            member &= (sat >= obj.saturation[0]) & (sat <= obj.saturation[1])
        return value, member

    def _signal(self, images: torch.Tensor, k: int, colour: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Background-free signal of class k (0 off its colour) and its raw brightness."""
        raw, member = self._raw(images, k, colour)
        radius = int(math.ceil(float(self.diameter[k])))
        signal = top_hat(raw, radius) if 4 * radius <= min(images.shape[-2:]) else raw
        return (signal if member is None else signal * member), raw

    # -- calibration ----------------------------------------------------------------------
    @torch.no_grad()
    def calibrate(self, images: torch.Tensor) -> dict[str, float]:
        """Estimate ``auto`` diameters and per-class thresholds on (N, C, H, W) images; returns them."""
        images = images.float()
        for k in range(len(self.objects)):
            if float(self.diameter[k]) <= 0:
                raw, member = self._raw(images, k, self._colour(images))
                x = raw if member is None else raw * member
                self.diameter[k] = estimate_diameter(x - x.flatten(1).median(dim=1).values[:, None, None])
        colour = self._colour(images)
        for k in range(len(self.objects)):
            if self.params.threshold == "dataset":
                signal, _ = self._signal(images, k, colour)
                values = signal.flatten()[:: max(1, signal.numel() // MAX_CALIBRATION_PIXELS)]
                self.threshold[k] = self._otsu(values[None])[0]
            mask = self._mask(self._signal(images, k, colour)[0], k)
            self.single_area[k] = single_object_area(mask, float(self.diameter[k]))
        return self.resolved()

    @staticmethod
    def _otsu(values: torch.Tensor) -> torch.Tensor:
        """Otsu per row of (R, P) non-negative values, on a histogram up to each row's 99.9th percentile."""
        top = torch.quantile(values.float(), 0.999, dim=1).clamp_min(1e-6) if values.shape[1] <= 16_000_000 else values.amax(1)
        return otsu_thresholds((values / top[:, None]).clamp(0, 1)) * top

    def resolved(self) -> dict[str, float]:
        out = {f"diameter_{n}": float(d) for n, d in zip(self.names, self.diameter)}
        out.update({f"threshold_{n}": float(t) for n, t in zip(self.names, self.threshold) if t >= 0})
        out.update({f"object_area_{n}": float(a) for n, a in zip(self.names, self.single_area) if a > 0})
        return out

    def _ensure(self, images: torch.Tensor) -> None:
        if not self.calibrated:  # used on its own: calibrate on the first images it sees
            self.calibrate(images)

    # -- outputs --------------------------------------------------------------------------
    def _mask(self, signal: torch.Tensor, k: int) -> torch.Tensor:
        if isinstance(self.params.threshold, float):
            thr = torch.full(signal.shape[:1], self.params.threshold, device=signal.device)
        elif self.params.threshold == "image":
            thr = self._otsu(signal.flatten(1))
        else:
            thr = self.threshold[k].expand(signal.shape[0])
        return signal > thr[:, None, None]

    @torch.no_grad()
    def masks(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, K, H, W) bool foreground of every class (classes may overlap)."""
        images = images.float()
        self._ensure(images)
        colour = self._colour(images)
        return torch.stack([self._mask(self._signal(images, k, colour)[0], k) for k in range(len(self.objects))], dim=1)

    @torch.no_grad()
    def labels(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, H, W) int64: 0 background, k + 1 class k (later classes over earlier)."""
        masks = self.masks(images)
        labels = torch.zeros(masks.shape[:1] + masks.shape[2:], dtype=torch.long, device=masks.device)
        for k in range(masks.shape[1]):
            labels[masks[:, k]] = k + 1
        return labels

    @torch.no_grad()
    def measure(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, 3K): area fraction, object count, mean brightness in the mask (0 if none), per class."""
        images = images.float()
        self._ensure(images)
        area, count, intensity = [], [], []
        colour = self._colour(images)
        for k in range(len(self.objects)):
            signal, raw = self._signal(images, k, colour)
            mask = self._mask(signal, k)
            pixels = mask.flatten(1).sum(dim=1).float()
            area.append(pixels / mask[0].numel())
            count.append(count_objects(mask, float(self.diameter[k]), float(self.single_area[k])))
            intensity.append((raw * mask).flatten(1).sum(dim=1) / pixels.clamp_min(1))
        return torch.stack(area + count + intensity, dim=1)

    def feature_names(self) -> list[str]:
        """Column names of :meth:`measure`: ``<object>_area`` ..., ``<object>_count`` ..., ``<object>_intensity`` ..."""
        return [f"{n}_{q}" for q in QUANTITIES for n in self.names]
