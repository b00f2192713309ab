"""Finding objects for ``crop_cells``: scikit-image segmentation of one channel of a field.

The field's channel is stretched to its 1 / 99.8 percentiles, smoothed with a Gaussian
scaled to the object diameter, thresholded (Otsu), cleared of fragments much smaller than
an object, and touching objects are split by a watershed on the distance transform whose
seeds are distance maxima (the field's edge counted as background) at least 0.4 diameters apart. ``diameter: auto`` is the median
equivalent diameter of the first, unsplit segmentation.
"""

from __future__ import annotations

import numpy as np

FALLBACK_DIAMETER = 12.0


def _stretch(image: np.ndarray) -> np.ndarray:
    finite = np.nan_to_num(image.astype(np.float32))
    low, high = np.percentile(finite, (1.0, 99.8))
    return np.clip((finite - low) / (high - low if high > low else 1.0), 0.0, 1.0)


def estimate_diameter(image: np.ndarray) -> float:
    """Median equivalent diameter of the Otsu objects of a stretched image (FALLBACK_DIAMETER when none)."""
    from skimage.filters import gaussian, threshold_otsu
    from skimage.measure import label, regionprops

    smooth = gaussian(image, sigma=1.0)
    if smooth.max() <= smooth.min():
        return FALLBACK_DIAMETER
    regions = [r for r in regionprops(label(smooth > threshold_otsu(smooth))) if r.area >= 9]
    return float(np.median([r.equivalent_diameter_area for r in regions])) if regions else FALLBACK_DIAMETER


def segment(image: np.ndarray, diameter: float | None = None) -> tuple[np.ndarray, float]:
    """Labels (H, W) int32 of the objects in a 2-D image, and the diameter used."""
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import gaussian, threshold_otsu
    from skimage.morphology import remove_small_objects
    from skimage.segmentation import watershed

    stretched = _stretch(image)
    d = float(diameter) if diameter else estimate_diameter(stretched)
    smooth = gaussian(stretched, sigma=max(1.0, d / 10.0))
    if smooth.max() - smooth.min() < 1e-6:
        return np.zeros(image.shape, np.int32), d
    mask = smooth > threshold_otsu(smooth)
    mask = remove_small_objects(mask, max_size=max(2, int(0.1 * np.pi * (d / 2) ** 2)))
    distance = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]  # the field's edge counts as background
    peaks = peak_local_max(distance, min_distance=max(1, int(d / 2.5)), labels=ndi.label(mask)[0], exclude_border=False)
    markers = np.zeros(image.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-distance, markers, mask=mask).astype(np.int32), d


def object_centres(image: np.ndarray, diameter: float | None = None) -> tuple[list[tuple[float, float]], float]:
    """Centroids (y, x) of the segmented objects, in label order, and the diameter used."""
    from skimage.measure import regionprops

    labels, d = segment(image, diameter)
    return [(float(r.centroid[0]), float(r.centroid[1])) for r in regionprops(labels)], d
