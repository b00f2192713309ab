"""Reading microscopy image files: PNG (opencv), TIFF / OME-TIFF (tifffile).

Headers are probed without reading pixels, so a dataset can check every file when it is
opened (exists, readable, shape) and still read pixels only on access. Arrays come back
as (C, H, W) in the file's own dtype; every problem is a :class:`DataError` naming the
file.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections import OrderedDict
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    if not (names and len(names) == cyx[0]):
        names = ("red", "green", "blue") if "S" in axes and cyx[0] == 3 else None  # RGB samples, as in a PNG
    return ImageInfo(path, cyx, dtype, names)


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
    return _opencv_chw(_opencv_decode(path))


def _opencv_decode(path: Path) -> np.ndarray:
    """The whole image as opencv decodes it: (H, W) or (H, W, channels) BGR[A], in the file's dtype."""
    import cv2

    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise DataError(f"{path}: unreadable image (opencv could not decode it)")
    return data


def _opencv_chw(data: np.ndarray) -> np.ndarray:
    """An opencv (H, W[, channels]) BGR[A] array (or a region of one) as (C, H, W), colour as RGB."""
    if data.ndim == 2:
        return np.ascontiguousarray(data[None])
    if data.shape[2] == 2:  # grey + alpha
        return np.ascontiguousarray(data[None, :, :, 0])
    return np.ascontiguousarray(data[:, :, 2::-1].transpose(2, 0, 1))


class FileRegions:
    """Regions of image files, read without decoding more than needed.

    TIFF: a memory map when the pixels are stored contiguously and uncompressed, else
    tifffile's Zarr view, so only the strips / tiles a region touches are decoded. Other
    formats (PNG, JPEG) cannot be read in regions: each is decoded whole once, kept in its
    own dtype (uint8 / uint16, never float), and the ``keep`` most recent files stay open so
    consecutive tiles of a file do not decode it again (readers keep two samples' files, so
    read-ahead threads crossing from one file to the next do not evict each other).
    """

    def __init__(self, keep: int = 1) -> None:
        self.keep = max(1, keep)
        self._open: OrderedDict[Path, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._opening: dict[Path, threading.Lock] = {}

    def __getstate__(self) -> dict[str, Any]:  # open files and decoded pixels stay in their process
        return {"keep": self.keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["keep"])  # type: ignore[misc]

    def _cached(self, path: Path) -> Any:
        with self._lock:
            if path in self._open:
                self._open.move_to_end(path)
                return self._open[path]
            return None

    def _entry(self, path: Path) -> Any:
        """The open file, opened (or decoded) once even when read-ahead threads ask for it together."""
        entry = self._cached(path)
        if entry is not None:
            return entry
        with self._lock:
            opening = self._opening.setdefault(path, threading.Lock())
        with opening:
            entry = self._cached(path)
            if entry is None:
                entry = _open_tiff(path) if _is_tiff(path) else ("opencv", _opencv_decode(path))
                with self._lock:
                    self._open[path] = entry
                    self._opening.pop(path, None)
                    while len(self._open) > self.keep:
                        _, old = self._open.popitem(last=False)
                        if old[0] == "tiff" and old[4] is not None:
                            old[4].close()
        return entry

    def read(self, path: Path, ys: slice, xs: slice) -> np.ndarray:
        """Pixels of a region of ``path`` as (C, h, w) in the file's dtype."""
        entry = self._entry(path)
        if entry[0] == "opencv":
            return _opencv_chw(entry[1][ys, xs])
        _, array, axes, order, tif = entry
        selection = tuple(ys if a == "Y" else xs if a == "X" else slice(None) if a in CHANNEL_AXES else slice(0, 1) for a in axes)
        try:
            data = np.asarray(array[selection])
        except Exception as exc:
            raise DataError(f"{path}: cannot read pixels ({type(exc).__name__}: {exc})") from None
        data = np.transpose(data, order)
        return np.ascontiguousarray(data.reshape(-1, *data.shape[-2:]))


def open_tiff_array(path: Path) -> tuple[Any, str, Any]:
    """The first series of a TIFF at full resolution as an array that reads regions lazily, its axes, and the open
    file (None for a memory map): a memory map when stored contiguously and uncompressed, else tifffile's Zarr view."""
    import tifffile
    import zarr

    try:
        tif = tifffile.TiffFile(path)
        series = tif.series[0]
        if series.dataoffset is not None and not getattr(series, "is_multifile", False):
            array: Any = tifffile.memmap(path, series=0, mode="r")
            tif.close()
            return array, series.axes, None
        return zarr.open_array(series.aszarr(level=0), mode="r"), series.axes, tif
    except Exception as exc:
        raise DataError(f"{path}: unreadable image ({type(exc).__name__}: {exc})") from None


def read_orthogonal(array: Any, selection: tuple[Any, ...]) -> np.ndarray:
    """``array[selection]`` with at most one index list, for a Zarr array or a numpy memory map alike."""
    return np.asarray(array.oindex[selection] if hasattr(array, "oindex") else array[selection])


def _open_tiff(path: Path) -> tuple[str, Any, str, list[int], Any]:
    """('tiff', lazy array of the first series, its axes, the (C, Y, X) order, the open file or None)."""
    array, axes, tif = open_tiff_array(path)
    order, _ = _cyx(tuple(array.shape), axes, path)
    return ("tiff", array, axes, order, tif)
