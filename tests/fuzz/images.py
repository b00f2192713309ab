"""Strategies for image files as the readers meet them: every dtype and shape the formats hold,
NaN and infinities, 1 x 1, then truncated, bit-flipped or wrongly named, under odd paths.

Encoders are tifffile and opencv, the libraries real microscopy files come from; corruption is
applied to their bytes, so a broken file is broken the way a half-copied one is.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from hypothesis import strategies as st

TIFF_DTYPES = ["uint8", "uint16", "int8", "int16", "uint32", "int32", "float16", "float32", "float64", "bool"]
ODD_STEMS = [" spaced name ", "\u00fcn\u00efc\u00f8d\u00e9", "\U0001f52c cell", "a" * 180, ".hidden", "-dash", "{day}", "50%",
             "line\nbreak", "tab\there", "\u202eevil", "name.with.dots", "CON", "\u00e9" * 60]


def pixels(draw: st.DrawFn, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Pixel values of a dtype: random, constant, extreme, or (floats) with NaN / infinities in them."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["random", "random", "constant", "extreme", "special"]))
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.integers(0, 2, shape).astype(bool) if kind != "constant" else np.zeros(shape, bool)
    if dt.kind in "ui":
        info = np.iinfo(dt)
        if kind == "constant":
            return np.full(shape, draw(st.integers(int(info.min), int(info.max))), dt)
        if kind == "extreme":
            return rng.choice(np.array([info.min, info.max], dt), shape)
        return rng.integers(int(info.min), int(info.max), shape, dtype=dt, endpoint=True)
    data = rng.normal(0.5, 0.3, shape).astype(dt)
    if kind == "constant":
        data[...] = draw(st.sampled_from([0.0, 1.0, -5.0, np.nan, np.inf]))
    elif kind == "extreme":
        data = rng.choice(np.array([np.finfo(dt).min, np.finfo(dt).max, 0], dt), shape)
    elif kind == "special":
        flat = data.reshape(-1)
        flat[rng.integers(0, flat.size, max(1, flat.size // 4))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return data


def tiff_bytes(data: np.ndarray, axes: str | None, ome: bool, rgb: bool = False) -> bytes:
    """``data`` as a TIFF (OME-TIFF when ``ome``) in memory; axes metadata when given."""
    import tifffile

    buffer = io.BytesIO()
    metadata: dict[str, Any] | None = {"axes": axes} if axes else None
    tifffile.imwrite(buffer, data, ome=ome, metadata=metadata, photometric="rgb" if rgb else "minisblack")
    return buffer.getvalue()


@st.composite
def tiff_image(draw: st.DrawFn, height: int, width: int) -> bytes:
    """One image as TIFF: 2-D, channels first with CYX metadata, RGB, or (wrongly here) a stack."""
    dtype = draw(st.sampled_from(TIFF_DTYPES))
    layout = draw(st.sampled_from(["YX", "CYX", "CYX", "YXS", "TYX", "ZCYX"]))
    n = draw(st.integers(1, 4))
    shape = {"YX": (height, width), "CYX": (n, height, width), "YXS": (height, width, 3), "TYX": (n, height, width),
             "ZCYX": (2, n, height, width)}[layout]
    if layout == "YXS":
        dtype = draw(st.sampled_from(["uint8", "uint16"]))
    data = pixels(draw, shape, dtype)
    axes = None if layout == "YXS" or draw(st.booleans()) and layout == "YX" else layout
    return tiff_bytes(data, axes, ome=draw(st.booleans()) and dtype not in ("bool", "float16"), rgb=layout == "YXS")


@st.composite
def png_image(draw: st.DrawFn, height: int, width: int) -> bytes:
    """One image as PNG through opencv: grey or colour (with alpha), 8- or 16-bit."""
    import cv2

    dtype = draw(st.sampled_from(["uint8", "uint16"]))
    channels = draw(st.sampled_from([1, 3, 4]))
    shape = (height, width) if channels == 1 else (height, width, channels)
    ok, encoded = cv2.imencode(".png", pixels(draw, shape, dtype))
    assert ok
    return encoded.tobytes()


@st.composite
def corrupted(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` as it is, or truncated, bit-flipped, emptied, or replaced by noise."""
    how = draw(st.sampled_from(["intact"] * 8 + ["truncate", "flip", "empty", "noise", "header-only"]))
    if how == "truncate":
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    if how == "flip":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(out) - 1))
            out[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(out)
    if how == "empty":
        return b""
    if how == "noise":
        return draw(st.binary(min_size=1, max_size=300))
    if how == "header-only":
        return data[:8] + draw(st.binary(max_size=64))
    return data


@st.composite
def image_file(draw: st.DrawFn, height: int, width: int) -> tuple[bytes, str]:
    """(bytes, suffix) of one image file; the suffix is sometimes the other format's, or upper case."""
    is_tiff = draw(st.booleans())
    data = draw(tiff_image(height, width) if is_tiff else png_image(height, width))
    suffix = draw(st.sampled_from([".tif", ".tiff", ".TIF"] if is_tiff else [".png", ".PNG"]))
    if draw(st.integers(0, 9)) == 0:
        suffix = draw(st.sampled_from([".png", ".tif", ".jpg", ".bmp", ".txt"]))
    return draw(corrupted(data)), suffix


def stems() -> st.SearchStrategy[str]:
    """File names without suffix: ordinary, Unicode, very long, with spaces, braces or line breaks."""
    safe = st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",))
    text = st.text(safe, min_size=1, max_size=30).filter(lambda s: s not in (".", "..") and len(s.encode()) < 200)
    return st.one_of(st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,8}", fullmatch=True), st.sampled_from(ODD_STEMS), text)


def sizes() -> st.SearchStrategy[tuple[int, int]]:
    """Image sizes: 1 x 1, thin lines, small squares (big ones are #16 item 4's business, not fuzzing's)."""
    return st.one_of(st.just((1, 1)), st.tuples(st.integers(1, 24), st.integers(1, 24)), st.sampled_from([(1, 17), (17, 1), (16, 16)]))
