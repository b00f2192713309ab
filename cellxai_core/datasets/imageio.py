"""Reading microscopy image files: PNG (opencv), TIFF / OME-TIFF (tifffile).

Headers are probed without reading pixels, so a dataset can check every file when it is
opened (exists, readable, shape) and still read pixels only on access. Arrays come back
as (C, H, W) in the file's own dtype; every problem is a :class:`DataError` naming the
file.
"""

from __future__ import annotations

import logging
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cellxai_core.errors import DataError

PNG_SUFFIXES = (".png",)
TIFF_SUFFIXES = (".tif", ".tiff")
OTHER_SUFFIXES = (".jpg", ".jpeg", ".bmp")
IMAGE_SUFFIXES = PNG_SUFFIXES + TIFF_SUFFIXES + OTHER_SUFFIXES
CHANNEL_AXES = "CSQI"  # tifffile axes codes read as channels (S: RGB samples, Q / I: generic pages)
logging.getLogger("tifffile").setLevel(logging.CRITICAL)  # its ERROR lines would precede our one-line DataError
PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 3, 6: 3}  # colour type -> channels opencv returns (alpha dropped)


@dataclass(frozen=True)
class ImageInfo:
    """What a header says: (C, H, W), dtype and channel names when the file names them."""

    path: Path
    shape: tuple[int, int, int]
    dtype: np.dtype
    channel_names: tuple[str, ...] | None = None


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def _is_tiff(path: Path) -> bool:
    return path.suffix.lower() in TIFF_SUFFIXES


def _cyx(shape: tuple[int, ...], axes: str, path: Path) -> tuple[list[int], tuple[int, int, int]]:
    """Axis permutation bringing a TIFF series to (channels..., Y, X) and the (C, H, W) shape.

    Axes other than channels, Y and X must have length 1: one file is one image here.
    """
    extra = [(a, n) for a, n in zip(axes, shape) if a not in CHANNEL_AXES + "YX" and n > 1]
    if extra:
        found = ", ".join(f"{a}={n}" for a, n in extra)
        raise DataError(f"{path}: has axes {axes} with {found}; expected one image per file (use tiff-stack for a time-lapse)")
    if "Y" not in axes or "X" not in axes:
        raise DataError(f"{path}: TIFF series has axes {axes}, expected Y and X")
    channel_idx = [i for i, a in enumerate(axes) if a in CHANNEL_AXES]
    other = [i for i, a in enumerate(axes) if a not in CHANNEL_AXES + "YX"]
    order = other + channel_idx + [axes.index("Y"), axes.index("X")]
    channels = int(np.prod([shape[i] for i in channel_idx])) if channel_idx else 1
    return order, (channels, shape[axes.index("Y")], shape[axes.index("X")])


def ome_channel_names(xml: str | None) -> tuple[str, ...] | None:
    """Channel names from OME-XML (the first image), when every channel has one."""
    if not xml:
        return None
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    image = next((el for el in root.iter() if el.tag.endswith("}Image") or el.tag == "Image"), None)
    if image is None:
        return None
    names = [el.get("Name") for el in image.iter() if el.tag.endswith("}Channel") or el.tag == "Channel"]
    return tuple(names) if names and all(names) else None  # type: ignore[arg-type]


def _probe_png(path: Path) -> ImageInfo:
    with open(path, "rb") as fh:
        head = fh.read(33)
    if len(head) < 33 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise DataError(f"{path}: unreadable image (not a PNG file)")
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    if colour not in PNG_CHANNELS or width == 0 or height == 0:
        raise DataError(f"{path}: unreadable image (PNG header with colour type {colour}, size {width}x{height})")
    dtype = np.dtype(np.uint16 if depth == 16 else np.uint8)
    return ImageInfo(path, (PNG_CHANNELS[colour], height, width), dtype)


def _probe_tiff(path: Path) -> ImageInfo:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            shape, axes, dtype = tuple(series.shape), series.axes, np.dtype(series.dtype)
            names = ome_channel_names(tif.ome_metadata) if tif.is_ome else None
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from None
    _, cyx = _cyx(shape, axes, path)
    return ImageInfo(path, cyx, dtype, names if names and len(names) == cyx[0] else None)


def probe(path: Path) -> ImageInfo:
    """The header of an image file, without reading its pixels."""
    if not path.is_file():
        raise DataError(f"{path}: file does not exist")
    if path.suffix.lower() in PNG_SUFFIXES:
        return _probe_png(path)
    if _is_tiff(path):
        return _probe_tiff(path)
    from PIL import Image  # JPEG / BMP headers without decoding (opencv has no header-only read)

    try:
        with Image.open(path) as image:
            (width, height), mode = image.size, image.mode
    except Exception as exc:
        raise DataError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from None
    return ImageInfo(path, (1 if mode in ("L", "I", "I;16", "F", "1") else 3, height, width), np.dtype(np.uint16 if mode.startswith("I;16") else np.uint8))


def read_image(path: Path) -> np.ndarray:
    """Pixels of an image file as (C, H, W) in the file's dtype; colour PNGs come back as RGB."""
    if _is_tiff(path):
        import tifffile

        try:
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                data = series.asarray()
                order, cyx = _cyx(tuple(series.shape), series.axes, path)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from None
        return np.ascontiguousarray(np.transpose(data, order).reshape(cyx))
    import cv2

    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # type: ignore[assignment]
    if data is None:
        raise DataError(f"{path}: unreadable image (opencv could not decode it)")
    if data.ndim == 2:
        return data[None]
    if data.shape[2] == 2:  # grey + alpha
        return data[None, :, :, 0]
    rgb = cv2.cvtColor(data[:, :, :3], cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))
