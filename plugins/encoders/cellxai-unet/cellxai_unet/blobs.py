"""Blobs at an object's scale, batched in torch: Gaussian / LoG filters, peak counting, size estimation.

Why LoG peaks rather than connected components: objects that touch (cells in a clump,
nuclei pressed together) form one component, and a threshold that is a little low
merges neighbours; the scale-normalised Laplacian of Gaussian at sigma = d / (2 sqrt 2)
has one maximum per disc of diameter d, also for two discs that touch, so counting its
maxima inside the foreground counts objects. The same filter over a range of sigma
gives each blob its own best scale (Lindeberg's scale selection), from which
``diameter: auto`` is estimated.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .hsv import square_max

SQRT8 = 2.0 * math.sqrt(2.0)  # diameter of a disc / the sigma at which its LoG response peaks


def gaussian_kernel(sigma: float, device: torch.device | str = "cpu") -> torch.Tensor:
    """1-D normalised Gaussian of +-3 sigma (at least 3 taps)."""
    half = max(1, int(math.ceil(3.0 * sigma)))
    x = torch.arange(-half, half + 1, dtype=torch.float32, device=device)
    k = torch.exp(-0.5 * (x / max(sigma, 1e-3)) ** 2)
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, H, W) blurred by a separable Gaussian of +-3 sigma, edges reflected (replicated when too small).

    On the CPU OpenCV does the same filter (same kernel, same reflection) several times faster
    than a one-channel torch convolution; on a GPU it stays in torch.
    """
    k = gaussian_kernel(sigma, x.device).to(x.dtype)
    half = len(k) // 2
    reflect = half < min(x.shape[-2:])
    if x.device.type == "cpu" and x.dtype == torch.float32:
        import cv2

        border = cv2.BORDER_REFLECT_101 if reflect else cv2.BORDER_REPLICATE
        kernel = k.numpy().astype("float32")
        arr = x.contiguous().numpy()
        return torch.from_numpy(
            np.stack([cv2.sepFilter2D(im, cv2.CV_32F, kernel, kernel, borderType=border) for im in arr])
        ) if len(arr) else x.clone()
    y = x.unsqueeze(1)
    mode = "reflect" if reflect else "replicate"
    y = F.conv2d(F.pad(y, (half, half, 0, 0), mode=mode), k.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, half, half), mode=mode), k.view(1, 1, -1, 1))
    return y.squeeze(1)


def blob_response(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N, H, W) scale-normalised negative LoG, -sigma^2 lap(G_sigma * x): positive on bright blobs."""
    g = F.pad(gaussian_blur(x, sigma).unsqueeze(1), (1, 1, 1, 1), mode="replicate").squeeze(1)
    centre = g[:, 1:-1, 1:-1]
    lap = g[:, :-2, 1:-1] + g[:, 2:, 1:-1] + g[:, 1:-1, :-2] + g[:, 1:-1, 2:] - 4 * centre
    return -(sigma**2) * lap


def _tie_break(shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    """A tiny fixed pseudo-random field, so that a flat top (a disc centred between pixels) has one maximum."""
    h, w = shape
    idx = torch.arange(h * w, device=device, dtype=torch.float64)
    return (((idx * 0.6180339887) % 1.0).reshape(h, w) * 1e-6).float()


def local_peaks(response: torch.Tensor, radius: int) -> torch.Tensor:
    """(N, H, W) bool: strict maxima over a (2r+1)^2 window with a positive response."""
    r = response + _tie_break(tuple(response.shape[-2:]), response.device) * response.abs().amax().clamp_min(1e-12)
    pooled = square_max(r.unsqueeze(1), radius).squeeze(1)
    return (r >= pooled) & (response > 0)


def distance_map(mask: torch.Tensor, steps: int) -> torch.Tensor:
    """(N, H, W) bool -> float distance to the background, up to ``steps`` + 1, batched on any device.

    1 + the number of erosions a pixel survives, alternating a 3x3 square and a cross (an
    octagonal distance, close to Euclidean); outside the image counts as foreground, so
    objects cut by the border are not eroded from it.
    """
    x = mask.to(torch.float32).unsqueeze(1)
    dist = x.clone()
    for i in range(steps):
        if i % 2 == 0:
            x = -square_max(-x, 1)
        else:
            p = F.pad(x, (1, 1, 1, 1), mode="replicate")
            x = torch.minimum(torch.minimum(p[..., :-2, 1:-1], p[..., 2:, 1:-1]), torch.minimum(p[..., 1:-1, :-2], p[..., 1:-1, 2:]))
            x = torch.minimum(x, p[..., 1:-1, 1:-1])
        if not bool(x.any()):
            break
        dist = dist + x
    return dist.squeeze(1)


def object_peaks(mask: torch.Tensor, diameter: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One point per object in (N, H, W) foreground masks: maxima of the distance to the background.

    The mask is first closed at an eighth of a diameter (holes from a dim nucleus or texture
    would split an object). Touching objects meet at a neck where the distance dips, so each
    keeps its own maximum; maxima closer than half a diameter belong to one object, and the map
    is smoothed a little so that the ridge of an elongated object has one top; a maximum counts
    when it lies at least a sixth of a diameter inside the foreground (no specks).
    Returns (peaks, closed mask), both (N, H, W) bool.
    """
    steps = max(1, int(math.ceil(2 * diameter)))  # deep enough that a clump has no plateau (its top is one point)
    close = int(round(diameter / 8))
    if close:  # fill holes narrower than a quarter diameter that would split the distance map
        mask = (-square_max(-square_max(mask.to(torch.float32).unsqueeze(1), close), close)).squeeze(1) > 0.5
    dist = distance_map(mask, steps)
    hill = gaussian_blur(dist, max(0.5, diameter / 8))  # a plateau or a ridge of equal distances has one top
    return local_peaks(hill, max(1, int(diameter / 2))) & (dist >= max(1.0, round(diameter / 6))), mask


def component_ids(mask: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool -> int64 ids of 8-connected components, unique across the batch (0 = background).

    OpenCV on the CPU; on a GPU every pixel repeatedly takes the largest id around it until
    nothing changes (no host round trip).
    """
    n, h, w = mask.shape
    if mask.device.type == "cpu":
        import cv2

        out, offset = np.zeros((n, h, w), np.int64), 0
        for i, m in enumerate(mask.to(torch.uint8).numpy()):
            count, labels = cv2.connectedComponents(m, connectivity=8)
            out[i] = np.where(labels > 0, labels + offset, 0)
            offset += count
        return torch.from_numpy(out)
    fg = mask.unsqueeze(1).to(torch.float32)
    ids = torch.arange(1, h * w + 1, device=mask.device, dtype=torch.float32).reshape(1, 1, h, w) * fg
    while True:
        before = ids
        for _ in range(4):
            ids = F.max_pool2d(ids, 3, stride=1, padding=1) * fg
        if torch.equal(ids, before):
            break
    image = torch.arange(n, device=mask.device).view(n, 1, 1) * (h * w + 1)
    return torch.where(mask, ids.squeeze(1).to(torch.int64) + image, torch.zeros_like(image))


def count_objects(mask: torch.Tensor, diameter: float, single_area: float = 0.0) -> torch.Tensor:
    """Objects per image in (N, H, W) foreground masks -> (N,) float.

    Each connected component counts its distance-map maxima (:func:`object_peaks`) or, when
    ``single_area`` (the typical area of one object, calibrated on the data) is known and the
    component is larger, its area in objects: a dense clump of touching objects has no necks
    left to split it, but its area still says how many it holds.
    """
    peaks, closed = object_peaks(mask, diameter)
    if single_area <= 0:
        return peaks.flatten(1).sum(dim=1).to(torch.float32)
    return per_component_total(closed, peaks, single_area)


def component_counts(closed: torch.Tensor, peaks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per component (index 0 = background): (peaks, area in pixels)."""
    ids = component_ids(closed).flatten()
    size = int(ids.max()) + 1 if ids.numel() else 1
    area = torch.bincount(ids, minlength=size)
    return torch.bincount(ids[peaks.flatten().to(ids.device)], minlength=size), area


def per_component_total(closed: torch.Tensor, peaks: torch.Tensor, single_area: float) -> torch.Tensor:
    """(N,) sum over each image's components of max(peaks, round(area / single_area))."""
    n = closed.shape[0]
    ids = component_ids(closed)
    flat = ids.flatten()
    size = int(flat.max()) + 1 if flat.numel() else 1
    area = torch.bincount(flat, minlength=size).to(torch.float32)
    found = torch.bincount(flat[peaks.flatten().to(flat.device)], minlength=size).to(torch.float32)
    image = torch.zeros(size, dtype=torch.int64, device=flat.device)
    image.scatter_(0, flat, torch.arange(n, device=flat.device).repeat_interleave(ids[0].numel()))
    objects = torch.maximum(found, torch.round(area / single_area))[1:]
    return torch.bincount(image[1:], weights=objects, minlength=n).to(torch.float32).to(closed.device)


def single_object_area(mask: torch.Tensor, diameter: float) -> float:
    """Median area (px) of the components that hold exactly one object; 0 when there are none."""
    peaks, closed = object_peaks(mask, diameter)
    found, area = component_counts(closed, peaks)
    single = area[1:][found[1:] == 1]
    return float(single.float().median()) if single.numel() else 0.0


def _noise_level(response: torch.Tensor) -> torch.Tensor:
    """Robust sd (1.4826 MAD, on a pixel subsample) of a response map that is mostly background."""
    flat = response.flatten()[:: max(1, response.numel() // 200_000)].float()
    return 1.4826 * (flat - flat.median()).abs().median()


def estimate_diameter(
    signal: torch.Tensor, lo: float = 2.0, hi: float | None = None, steps_per_octave: int = 4, snr: float = 5.0
) -> float:
    """Typical object diameter (px) in (N, H, W) background-free signal, by scale selection.

    Every pixel takes the sigma where its normalised LoG response is largest; maxima of that
    best response over a window of the blob's own size are the blobs. Blobs whose response
    exceeds ``snr`` robust noise sds of the response at their scale vote with ``2 sqrt 2 sigma``,
    weighted by response x area (so texture inside large objects, many small blobs, does not
    outvote the objects); the diameter is the weighted median (``lo`` when nothing stands out).
    """
    h, w = signal.shape[-2:]
    hi = hi or max(lo * 2, min(h, w) / 1.5)
    n_sigma = max(2, int(round(math.log2(hi / lo) * steps_per_octave)) + 1)
    sigmas = [lo / SQRT8 * (hi / lo) ** (i / (n_sigma - 1)) for i in range(n_sigma)]
    best = torch.full_like(signal, -float("inf"))
    best_sigma = torch.zeros_like(signal)
    floor = torch.zeros_like(signal)
    for s in sigmas:
        r = blob_response(signal, s)
        better = r > best
        best = torch.where(better, r, best)
        best_sigma = torch.where(better, torch.full_like(r, s), best_sigma)
        floor = torch.where(better, snr * _noise_level(r), floor)
    peaks = local_peaks(best, max(1, int(lo / 2))) & (best > floor)
    for s in sigmas:  # a blob is also the maximum within its own radius
        size = max(1, int(s * SQRT8 / 2))
        pooled = square_max(best.unsqueeze(1), size).squeeze(1)
        peaks &= ~((best_sigma >= s) & (best < pooled))
    values, scales = best[peaks].double(), best_sigma[peaks].double()
    if values.numel() == 0:
        return float(lo)
    order = torch.argsort(scales)
    cum = (values * scales**2)[order].cumsum(0)
    median = scales[order][int(torch.searchsorted(cum, cum[-1] / 2).clamp_max(len(order) - 1))]
    return float(median) * SQRT8
