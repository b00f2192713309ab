"""Images too large to read whole are refused when the dataset opens, before a pixel is decoded."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import yaml

import cellxai_core as cx
from cellxai_core.cli import main
from cellxai_core.errors import DataError


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width x height RGB (what a probe reads); the pixel data is cut off."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


def test_two_20000_pixel_pngs_exit_2_before_any_decoding(tmp_path, capsys, registry, monkeypatch):
    from cellxai_core.datasets import imageio

    monkeypatch.setattr(imageio, "_opencv_decode", lambda path: pytest.fail(f"decoded {path}"))
    folder = tmp_path / "big"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        (folder / name).write_bytes(_png_header(20_000, 20_000))
    pipeline = {
        "dataset": {"name": "image-folder", "params": {"path": str(folder)}},
        "encoder": {"name": "test-conv"}, "fusion": {"name": "test-delta"},
        "clusterer": {"name": "test-kmeans", "params": {"n_clusters": 2}},
    }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(pipeline))
    code = main(["run", str(path), "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "a.png: 20000 x 20000 = 400 megapixels" in err and "max_pixels" in err


def test_max_pixels_bounds_every_reader(tmp_path):
    import tifffile
    import zarr

    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, np.zeros((5, 64, 64), np.uint16), metadata={"axes": "TYX"})
    with pytest.raises(DataError, match="64 x 64 .* above max_pixels"):
        cx.load_dataset("tiff-stack", path=str(stack), max_pixels=1000)
    assert len(cx.load_dataset("tiff-stack", path=str(stack), tile=16, max_pixels=1000)) == 16  # tiles fit

    big = tmp_path / "big.zarr"
    zarr.create_array(str(big), shape=(2, 1, 1, 20_000, 20_000), chunks=(1, 1, 1, 1024, 1024), dtype="uint8")
    with pytest.raises(DataError, match="400 megapixels"):  # the array has no chunk written: nothing is read
        cx.load_dataset("zarr", path=str(big))


def test_jpeg_header_is_read_without_decoding(tmp_path):
    import cv2

    from cellxai_core.datasets.imageio import probe

    path = tmp_path / "x.jpg"
    cv2.imwrite(str(path), np.zeros((30, 40, 3), np.uint8))
    info = probe(path)
    assert info.shape == (3, 30, 40) and info.dtype == np.uint8
