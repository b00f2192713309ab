"""Readers round-trip small PNG / TIFF / OME-TIFF / Zarr fixtures exactly: values, grouping, order, metadata."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import zarr

from cellxai_core.datasets.image_folder import ImageFolder
from cellxai_core.datasets.tiff_stack import TiffStack
from cellxai_core.datasets.zarr_store import ZarrDataset
from cellxai_core.errors import DataError

RNG = np.random.default_rng(0)


def as_uint16(images: np.ndarray) -> np.ndarray:
    return np.rint(images * 65535).astype(np.uint16)


def as_uint8(images: np.ndarray) -> np.ndarray:
    return np.rint(images * 255).astype(np.uint8)


# -- image-folder -----------------------------------------------------------------------------
def test_pattern_time_16bit_multichannel_tiff(tmp_path: Path) -> None:
    data = {}
    for well in ("B02", "A01"):
        for day in (1, 2, 10):  # numeric order: 10 comes last
            arr = RNG.integers(0, 65536, (2, 12, 16), dtype=np.uint16)
            data[well, day] = arr
            tifffile.imwrite(tmp_path / f"{well}_{day}.tif", arr, metadata={"axes": "CYX"})
    ds = ImageFolder(str(tmp_path), pattern="{well}_{day}.tif", normalize="dtype")
    assert (len(ds), ds.set_axis, ds.set_size, ds.image_size, ds.channels) == (2, "time", 3, (12, 16), ("c0", "c1"))
    assert ds.meta_keys == ("well",) and ds.truth_keys == () and ds.classes is None
    first, second = ds[0], ds[1]
    assert (first.id, first.meta, second.id) == ("A01", {"well": "A01"}, "B02")
    assert np.array_equal(as_uint16(second.images), np.stack([data["B02", d] for d in (1, 2, 10)]))


def test_rgb_png_is_read_as_rgb(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 256, (10, 14, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "cell1.png"), rgb[..., ::-1])  # opencv writes BGR
    cv2.imwrite(str(tmp_path / "cell2.png"), rgb[..., ::-1])
    ds = ImageFolder(str(tmp_path), normalize="dtype")
    assert ds.channels == ("red", "green", "blue") and ds.set_axis == "image" and len(ds) == 2
    sample = ds[0]
    assert sample.id == "cell1" and sample.images.shape == (1, 3, 10, 14)
    assert np.array_equal(as_uint8(sample.images[0]), rgb.transpose(2, 0, 1))


@pytest.fixture
def channel_files(tmp_path: Path) -> tuple[Path, dict]:
    """16-bit grey PNGs, one per stain: {sample}_{channel}.png."""
    data = {}
    for sample in ("s1", "s2"):
        for stain in ("vimentin", "actin", "dapi"):
            arr = RNG.integers(0, 65536, (9, 11), dtype=np.uint16)
            data[sample, stain] = arr
            cv2.imwrite(str(tmp_path / f"{sample}_{stain}.png"), arr)
    return tmp_path, data


def test_channel_files_merged_into_one_image(channel_files) -> None:
    folder, data = channel_files
    order = {"vimentin": "vimentin", "actin": "actin", "dapi": "dapi"}
    ds = ImageFolder(str(folder), pattern="{sample}_{channel}.png", channel_map=order, normalize="dtype")
    assert (ds.set_axis, ds.set_size, ds.channels) == ("image", 1, ("vimentin", "actin", "dapi"))
    s = ds[1]
    assert s.id == "s2" and s.images.shape == (1, 3, 9, 11)
    assert np.array_equal(as_uint16(s.images[0]), np.stack([data["s2", c] for c in order]))


def test_channel_files_as_isolated_channels(channel_files) -> None:
    folder, data = channel_files
    ds = ImageFolder(str(folder), pattern="{sample}_{channel}.png", set_axis="channel", normalize="dtype")
    # without a map, channels are in sorted order of their names
    assert (ds.set_axis, ds.set_size, ds.channels, ds.set_labels) == ("channel", 3, ("intensity",), ("actin", "dapi", "vimentin"))
    s = ds[0]
    assert s.images.shape == (3, 1, 9, 11)
    assert np.array_equal(as_uint16(s.images[:, 0]), np.stack([data["s1", c] for c in ("actin", "dapi", "vimentin")]))


def test_manifest_with_class_and_metadata(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    rows, data = [], {}
    for sample, klass, dose, plate in (("w9", "treated", 0.5, "P1"), ("w1", "control", 0.0, "P2")):
        for time in (0, 1):
            arr = RNG.integers(0, 256, (8, 8), dtype=np.uint8)
            name = f"img/{sample}_{time}.png"
            cv2.imwrite(str(tmp_path / name), arr)
            data[sample, time] = arr
            rows.append({"sample": sample, "time": time, "path": name, "class": klass, "Metadata_dose": dose, "Metadata_plate": plate})
    with open(tmp_path / "list.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[::-1])  # rows out of order: samples keep the order they first appear in
    ds = ImageFolder(str(tmp_path / "list.csv"), normalize="dtype")
    assert [ds[i].id for i in range(len(ds))] == ["w1", "w9"]
    assert ds.classes == ("control", "treated") and ds.truth_keys == ("class",) and ds.meta_keys == ("dose", "plate")
    s = ds[1]
    assert s.meta == {"dose": 0.5, "plate": "P1"} and s.truth == {"class": "treated"}
    assert np.array_equal(as_uint8(s.images[:, 0]), np.stack([data["w9", 0], data["w9", 1]]))


def test_folder_manifest_csv_is_found(tmp_path: Path) -> None:
    arr = RNG.integers(0, 256, (6, 6), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), arr)
    (tmp_path / "manifest.csv").write_text("sample,path\nonly,a.png\n")
    ds = ImageFolder(str(tmp_path), normalize="dtype")
    assert len(ds) == 1 and ds[0].id == "only" and np.array_equal(as_uint8(ds[0].images[0, 0]), arr)


def test_float_and_ome_tiff(tmp_path: Path) -> None:
    arr = RNG.random((3, 10, 10), dtype=np.float32)
    tifffile.imwrite(tmp_path / "x.ome.tif", arr, metadata={"axes": "CYX", "Channel": {"Name": ["vimentin", "actin", "dapi"]}})
    ds = ImageFolder(str(tmp_path), normalize="none")
    assert ds.channels == ("vimentin", "actin", "dapi") and ds[0].id == "x.ome"
    assert np.array_equal(ds[0].images[0], arr)


def test_percentile_normalisation_keeps_changes_over_time(tmp_path: Path) -> None:
    for day, gain in ((1, 1000), (2, 4000)):
        tifffile.imwrite(tmp_path / f"w_{day}.tif", (RNG.random((20, 20)) * gain).astype(np.uint16))
    over_sample = ImageFolder(str(tmp_path), pattern="{well}_{day}.tif", percentiles=(0, 100))[0].images
    assert over_sample.min() == 0 and over_sample.max() == 1 and over_sample[0].max() < 0.3
    per_image = ImageFolder(str(tmp_path), pattern="{well}_{day}.tif", percentiles=(0, 100), normalize_over="image")[0].images
    assert np.allclose(per_image.reshape(2, -1).max(1), 1) and np.allclose(per_image.reshape(2, -1).min(1), 0)


def test_crop_and_resize(tmp_path: Path) -> None:
    arr = RNG.integers(0, 256, (20, 30), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), arr)
    cropped = ImageFolder(str(tmp_path), crop=[10, 12], normalize="dtype")
    assert cropped.image_size == (10, 12) and np.array_equal(as_uint8(cropped[0].images[0, 0]), arr[5:15, 9:21])
    resized = ImageFolder(str(tmp_path), crop=10, resize=5, normalize="dtype")
    expected = cv2.resize(arr[5:15, 10:20].astype(np.float32), (5, 5), interpolation=cv2.INTER_AREA) / 255
    assert resized.image_size == (5, 5) and np.allclose(resized[0].images[0, 0], expected, atol=1e-6)


def test_pixels_are_read_on_access(tmp_path: Path) -> None:
    for name in ("a", "b"):
        cv2.imwrite(str(tmp_path / f"{name}.png"), RNG.integers(0, 256, (6, 6), dtype=np.uint8))
    ds = ImageFolder(str(tmp_path))
    (tmp_path / "b.png").write_bytes(b"not an image any more")
    ds[0]
    with pytest.raises(DataError, match="b.png"):
        ds[1]


# -- tiff-stack -------------------------------------------------------------------------------
def test_tiff_stack_tiles_and_windows(tmp_path: Path) -> None:
    movie = RNG.integers(0, 65536, (20, 2, 32, 48), dtype=np.uint16)
    path = tmp_path / "movie.ome.tif"
    tifffile.imwrite(path, movie, metadata={"axes": "TCYX", "Channel": {"Name": ["dapi", "gfp"]}})
    ds = TiffStack(str(path), tile=16, frames=5, windows=2, normalize="dtype")
    assert (len(ds), ds.set_size, ds.image_size, ds.channels) == (2 * 2 * 3, 5, (16, 16), ("dapi", "gfp"))
    s = ds[10]  # window 1, tile row 1, tile column 1
    assert s.meta == {"window": 1, "first_frame": 10, "tile_row": 1, "tile_col": 1, "tile_y": 16, "tile_x": 16}
    assert s.id == "movie_w1_y16_x16" and ds.meta_keys == ("window", "first_frame", "tile_row", "tile_col", "tile_y", "tile_x")
    frames = [10, 12, 14, 17, 19]
    assert np.array_equal(as_uint16(s.images), movie[frames][:, :, 16:32, 16:32])


def test_tiff_stack_frame_indices_and_stride(tmp_path: Path) -> None:
    movie = RNG.integers(0, 256, (9, 20, 20), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "m.tif", movie)
    ds = TiffStack(str(tmp_path / "m.tif"), tile=10, stride=5, frame_indices=[8, 0, 4], normalize="dtype")
    assert len(ds) == 9 and ds.channels == ("gray",)
    assert np.array_equal(as_uint8(ds[4].images[:, 0]), movie[[8, 0, 4], 5:15, 5:15])


# -- zarr -------------------------------------------------------------------------------------
def test_zarr_array_with_ids_meta_and_class(tmp_path: Path) -> None:
    images = RNG.integers(0, 65536, (4, 3, 2, 8, 10), dtype=np.uint16)
    group = zarr.open_group(str(tmp_path / "a.zarr"), mode="w")
    group.create_array("images", data=images, chunks=(1, 3, 2, 8, 10))
    group.create_array("ids", shape=(4,), dtype=str)[:] = np.array(["w1", "w2", "w3", "w4"])
    group.create_array("class", shape=(4,), dtype=str)[:] = np.array(["a", "b", "a", "b"])
    group.create_array("meta/dose", data=np.array([0.1, 0.2, 0.3, 0.4]))
    ds = ZarrDataset(str(tmp_path / "a.zarr"))
    assert (len(ds), ds.set_axis, ds.set_size, ds.channels, ds.classes, ds.meta_keys) == (4, "time", 3, ("c0", "c1"), ("a", "b"), ("dose",))
    s = ds[2]
    assert (s.id, s.meta, s.truth) == ("w3", {"dose": 0.3}, {"class": "a"})
    assert np.array_equal(as_uint16(s.images), images[2])


def test_zarr_root_array_4d(tmp_path: Path) -> None:
    images = RNG.integers(0, 256, (3, 1, 6, 6), dtype=np.uint8)
    zarr.save_array(str(tmp_path / "r.zarr"), images)
    ds = ZarrDataset(str(tmp_path / "r.zarr"))
    assert (len(ds), ds.set_size, ds.channels) == (3, 1, ("gray",))
    assert np.array_equal(as_uint8(ds[1].images[0]), images[1])


def write_plate(path: Path, version: str, axes: tuple[str, ...], shape: tuple[int, ...]) -> dict:
    """A 2-well, 2-field OME-Zarr HCS plate (0.4: Zarr v2 attributes; 0.5: Zarr v3 under 'ome')."""
    v3 = version == "0.5"
    root = zarr.open_group(str(path), mode="w", zarr_format=3 if v3 else 2)

    def put(group, key, value):
        if v3:
            group.attrs["ome"] = {**dict(group.attrs.get("ome", {})), "version": version, key: value}
        else:
            group.attrs[key] = value

    wells = [("A", "1"), ("B", "3")]
    put(root, "plate", {
        "name": "plate-7", "version": version, "field_count": 2,
        "rows": [{"name": "A"}, {"name": "B"}], "columns": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
        "wells": [{"path": f"{r}/{c}", "rowIndex": "AB".index(r), "columnIndex": int(c) - 1} for r, c in wells],
    })
    data = {}
    for r, c in wells:
        well = root.create_group(f"{r}/{c}")
        put(well, "well", {"images": [{"path": "0"}, {"path": "1"}], "version": version})
        for f in ("0", "1"):
            image = well.create_group(f)
            put(image, "multiscales", [{
                "version": version, "axes": [{"name": a} for a in axes],
                "datasets": [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1.0] * len(axes)}]}],
            }])
            put(image, "omero", {"channels": [{"label": "dapi"}, {"label": "gfp"}]})
            arr = RNG.integers(0, 4096, shape, dtype=np.uint16)
            image.create_array("0", data=arr, chunks=shape)
            data[f"{r}{c}", int(f)] = arr
    return data


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_ome_zarr_plate_fields_in_order(tmp_path: Path, version: str) -> None:
    data = write_plate(tmp_path / "plate.zarr", version, ("t", "c", "y", "x"), (3, 2, 12, 12))
    ds = ZarrDataset(str(tmp_path / "plate.zarr"))
    assert (len(ds), ds.set_axis, ds.set_size, ds.channels) == (4, "time", 3, ("dapi", "gfp"))
    assert [ds[i].id for i in range(4)] == ["A1_f0", "A1_f1", "B3_f0", "B3_f1"]
    s = ds[3]
    assert s.meta == {"plate": "plate-7", "row": "B", "column": "3", "well": "B3", "field": 1}
    assert np.array_equal(as_uint16(s.images), data["B3", 1])


def test_ome_zarr_plate_channels_and_z_projection(tmp_path: Path) -> None:
    data = write_plate(tmp_path / "plate.zarr", "0.4", ("c", "z", "y", "x"), (2, 3, 10, 10))
    ds = ZarrDataset(str(tmp_path / "plate.zarr"), set_axis="channel")
    assert (ds.set_axis, ds.set_size, ds.channels, ds.set_labels) == ("channel", 2, ("intensity",), ("dapi", "gfp"))
    s = ds[0]
    assert s.images.shape == (2, 1, 10, 10)
    assert np.array_equal(as_uint16(s.images[:, 0]), data["A1", 0].max(axis=1))
