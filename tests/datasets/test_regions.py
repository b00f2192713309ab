"""Tiles, crops around objects, dataset / fixed normalisation, 2-D and z-stack TIFFs, declared objects."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import zarr
from pydantic import ValidationError

import cellxai_core as cx
from cellxai_core.datasets import imageio
from cellxai_core.datasets.crops import object_centres
from cellxai_core.datasets.image_folder import ImageFolder
from cellxai_core.datasets.params import ImageFolderParams, TiffStackParams
from cellxai_core.datasets.tiff_stack import TiffStack
from cellxai_core.datasets.zarr_store import ZarrDataset
from cellxai_core.errors import DataError, UserError

RNG = np.random.default_rng(1)


def discs(shape: tuple[int, int], centres: list[tuple[int, int]], radius: float, value: int = 200) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image = np.full(shape, 10, np.uint8)
    for cy, cx_ in centres:
        image[(yy - cy) ** 2 + (xx - cx_) ** 2 <= radius**2] = value
    return image


# -- tiles ------------------------------------------------------------------------------------
def test_tiles_are_samples_with_their_origin(tmp_path: Path) -> None:
    images = {name: RNG.integers(0, 65536, (2, 100, 130), dtype=np.uint16) for name in ("a", "b")}
    for name, arr in images.items():
        tifffile.imwrite(tmp_path / f"{name}.tif", arr, metadata={"axes": "CYX"})
    ds = ImageFolder(str(tmp_path), tile={"size": 32}, normalize="dtype")
    assert len(ds) == 2 * 3 * 4 and ds.image_size == (32, 32)  # the 4 / 2 px remainders are not covered
    assert ds.meta_keys == ("tile_row", "tile_col", "tile_y", "tile_x")
    s = ds[12 + 7]  # file b, row 1, column 3
    assert s.id == "b_y32_x96" and s.meta == {"tile_row": 1, "tile_col": 3, "tile_y": 32, "tile_x": 96}
    assert np.array_equal(np.rint(s.images[0] * 65535).astype(np.uint16), images["b"][:, 32:64, 96:128])
    assert ds.describe(19) == ("b_y32_x96", s.meta, {})
    overlapping = ImageFolder(str(tmp_path), tile={"size": [32, 64], "stride": 16})
    assert len(overlapping) == 2 * 5 * 5


def test_empty_tiles_are_dropped(tmp_path: Path) -> None:
    image = RNG.integers(0, 20, (128, 128)).astype(np.uint8)  # dark noisy background
    image[70:120, 10:60] = 220  # one bright patch: tiles (2, 0), (2, 1), (3, 0), (3, 1) of 32 px
    cv2.imwrite(str(tmp_path / "field.png"), image)
    every = ImageFolder(str(tmp_path), tile=32)
    kept = ImageFolder(str(tmp_path), tile={"size": 32, "min_foreground": 0.1})
    assert len(every) == 16
    assert sorted((s["tile_row"], s["tile_col"]) for s in (kept.describe(i)[1] for i in range(len(kept)))) == [
        (2, 0), (2, 1), (3, 0), (3, 1)]
    assert kept.normalization["tiles_kept"] == 4 and kept.normalization["tiles_total"] == 16
    with pytest.raises(DataError, match="no tile of 16 has min_foreground 1.0"):
        ImageFolder(str(tmp_path), tile={"size": 32, "min_foreground": 1.0})


def test_tiff_tiles_are_read_region_by_region(tmp_path: Path, monkeypatch) -> None:
    big = RNG.integers(0, 65536, (2048, 2048), dtype=np.uint16)  # 8 MB
    tifffile.imwrite(tmp_path / "tiled.tif", big, tile=(128, 128), compression="zlib")
    tifffile.imwrite(tmp_path / "plain.tif", big)  # contiguous: memory-mapped
    monkeypatch.setattr(imageio, "read_image", lambda path: pytest.fail(f"decoded {path} whole"))
    monkeypatch.setattr(tifffile.TiffPageSeries, "asarray", lambda *a, **k: pytest.fail("decoded a whole series"))
    for name in ("tiled.tif", "plain.tif"):
        ds = ImageFolder(str(tmp_path), pattern=name, tile=128, normalize="dtype")
        ds[0]  # open the file first
        tracemalloc.start()
        sample = ds[len(ds) - 1]
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert np.array_equal(np.rint(sample.images[0, 0] * 65535).astype(np.uint16), big[1920:, 1920:])
        assert peak < big.nbytes / 8, f"{name}: reading one tile allocated {peak / 1e6:.1f} MB"


def test_png_is_decoded_once_for_all_its_tiles(tmp_path: Path, monkeypatch) -> None:
    for name in ("a", "b"):
        cv2.imwrite(str(tmp_path / f"{name}.png"), RNG.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    decode = imageio._opencv_decode
    calls: list[str] = []
    monkeypatch.setattr(imageio, "_opencv_decode", lambda path: calls.append(path.name) or decode(path))
    ds = ImageFolder(str(tmp_path), tile=32)
    assert len(ds) == 12 and ds.channels == ("red", "green", "blue")
    for i in range(len(ds)):
        ds[i]
    assert calls == ["a.png", "b.png"]
    for i in range(len(ds)):  # both files stay decoded: a second pass decodes nothing
        ds[i]
    assert calls == ["a.png", "b.png"]
    cached = ds._files._open  # kept in the file's own dtype, not float
    assert all(entry[1].dtype == np.uint8 for entry in cached.values())


def test_read_ahead_threads_decode_a_png_once(tmp_path: Path, monkeypatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    cv2.imwrite(str(tmp_path / "a.png"), RNG.integers(0, 256, (256, 256), dtype=np.uint8))
    decode = imageio._opencv_decode
    calls: list[str] = []
    monkeypatch.setattr(imageio, "_opencv_decode", lambda path: calls.append(path.name) or decode(path))
    ds = ImageFolder(str(tmp_path), tile=32)
    with ThreadPoolExecutor(4) as pool:
        samples = list(pool.map(ds.__getitem__, range(len(ds))))
    assert calls == ["a.png"] and len(samples) == 64


def test_large_image_without_tile_is_refused_with_a_hint(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "big.png"), np.zeros((64, 64), np.uint8))
    with pytest.raises(DataError, match=r"big\.png: 64 x 64 .* above max_pixels.*tile: \{size: 256\}"):
        ImageFolder(str(tmp_path), max_pixels=1000)
    assert len(ImageFolder(str(tmp_path), max_pixels=1000, tile=16)) == 16


def test_zarr_array_tiles(tmp_path: Path) -> None:
    data = RNG.integers(0, 256, (3, 2, 1, 40, 40), dtype=np.uint8)
    zarr.create_array(str(tmp_path / "a.zarr"), data=data)
    ds = ZarrDataset(str(tmp_path / "a.zarr"), tile=20)
    assert len(ds) == 12 and ds.set_size == 2
    s = ds[5]  # sample 1, tile (0, 1)
    assert s.meta == {"tile_row": 0, "tile_col": 1, "tile_y": 0, "tile_x": 20}
    assert np.array_equal(np.rint(s.images * 255).astype(np.uint8), data[1, :, :, 0:20, 20:40])


# -- tiff-stack: 2-D images and z ------------------------------------------------------------------
def test_tiff_stack_reads_a_single_2d_image_and_channels(tmp_path: Path) -> None:
    grey = RNG.integers(0, 256, (40, 50), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "grey.tif", grey)
    ds = TiffStack(str(tmp_path / "grey.tif"), normalize="dtype")
    assert (len(ds), ds.set_size, ds.set_axis, ds.channels, ds[0].id) == (1, 1, "image", ("gray",), "grey")
    assert np.array_equal(np.rint(ds[0].images[0, 0] * 255).astype(np.uint8), grey)
    stains = RNG.integers(0, 256, (3, 40, 50), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "stains.tif", stains, metadata={"axes": "CYX"})
    ds = TiffStack(str(tmp_path / "stains.tif"), channels=["DAPI", "actin", "vimentin"], tile=20, normalize="dtype")
    assert (len(ds), ds.channels, ds[0].images.shape) == (4, ("DAPI", "actin", "vimentin"), (1, 3, 20, 20))
    assert np.array_equal(np.rint(ds[3].images[0] * 255).astype(np.uint8), stains[:, 20:40, 20:40])  # DAPI stays first


def test_tiff_stack_z_as_set_samples_or_max(tmp_path: Path) -> None:
    stack = RNG.integers(0, 256, (6, 2, 16, 16), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "z.tif", stack, metadata={"axes": "ZCYX"})
    path = str(tmp_path / "z.tif")
    as_set = TiffStack(path, axis="z", frames=3, normalize="dtype")
    assert (len(as_set), as_set.set_size, as_set.set_axis, as_set.set_labels) == (1, 3, "image", ("z 0", "z 2", "z 5"))
    assert np.array_equal(np.rint(as_set[0].images * 255).astype(np.uint8), stack[[0, 2, 5]])
    planes = TiffStack(path, axis="z", z_as="samples", normalize="dtype")
    assert (len(planes), planes.set_size, planes.meta_keys) == (6, 1, ("plane",))
    assert planes[4].meta == {"plane": 4} and planes[4].id == "z_z4"
    assert np.array_equal(np.rint(planes[4].images[0] * 255).astype(np.uint8), stack[4])
    projected = TiffStack(path, axis="z", z_as="max", normalize="dtype")
    assert len(projected) == 1 and np.array_equal(np.rint(projected[0].images[0] * 255).astype(np.uint8), stack.max(axis=0))
    tzyx = RNG.integers(0, 256, (6, 3, 16, 16), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "tz.tif", tzyx, metadata={"axes": "TZYX"})
    movie = TiffStack(str(tmp_path / "tz.tif"), frames=2, normalize="dtype")  # z beside time: max-projected
    assert np.array_equal(np.rint(movie[0].images[:, 0] * 255).astype(np.uint8), tzyx[[0, 5]].max(axis=1))


def test_tiff_stack_params_accept_old_and_new_tiles() -> None:
    old = TiffStackParams(path="x.tif", tile=[16, 8], stride=4)
    assert old.tile is not None and old.tile.size == (16, 8) and old.stride == (4, 4)
    new = TiffStackParams(path="x.tif", tile={"size": 16, "min_foreground": 0.2}, axis="z", z_as="samples")
    assert new.tile is not None and new.tile.min_foreground == 0.2


# -- channel order -------------------------------------------------------------------------------
def test_channel_files_follow_the_named_channels_and_manifest_order(tmp_path: Path) -> None:
    data = {stain: RNG.integers(0, 256, (8, 8), dtype=np.uint8) for stain in ("vimentin", "actin", "DAPI")}
    for stain, arr in data.items():
        cv2.imwrite(str(tmp_path / f"s1_{stain}.png"), arr)
    ds = ImageFolder(str(tmp_path), pattern="{sample}_{channel}.png", channels=["DAPI", "actin", "vimentin"], normalize="dtype")
    assert ds.channels == ("DAPI", "actin", "vimentin")
    assert np.array_equal(np.rint(ds[0].images[0] * 255).astype(np.uint8), np.stack([data[c] for c in ds.channels]))
    rows = ["sample,path,channel"] + [f"s1,s1_{c}.png,{c}" for c in ("vimentin", "actin", "DAPI")]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    by_rows = ImageFolder(str(tmp_path / "m.csv"), normalize="dtype")
    assert by_rows.channels == ("vimentin", "actin", "DAPI")
    assert np.array_equal(np.rint(by_rows[0].images[0, 2] * 255).astype(np.uint8), data["DAPI"])
    with pytest.raises(UserError, match="must name each channel of the files once"):
        ImageFolder(str(tmp_path), pattern="{sample}_{channel}.png", channels=["DAPI", "actin", "tubulin"])


# -- crops around objects ---------------------------------------------------------------------------
CENTRES = [(20, 20), (20, 70), (60, 30), (64, 41), (100, 100), (4, 110)]  # (60, 30) and (64, 41) touch; (4, 110) at the border


def test_object_centres_split_touching_blobs() -> None:
    image = discs((128, 128), CENTRES, radius=6)
    found, diameter = object_centres(image.astype(np.float32))
    assert 10 <= diameter <= 14
    assert len(found) == len(CENTRES)
    for cy, cx_ in CENTRES:
        dist = min(np.hypot(cy - y, cx_ - x) for y, x in found)
        assert dist <= 1.5 if cy > 6 else dist <= 3.0  # the border disc is cut, so its centroid moves inward


def test_crop_cells_makes_one_centred_sample_per_object(tmp_path: Path) -> None:
    field = discs((128, 128), CENTRES, radius=6)
    other = RNG.integers(0, 50, (128, 128), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "f1.tif", np.stack([other, field]), metadata={"axes": "CYX"})
    objects = [{"name": "nucleus", "channel": "dapi"}]
    ds = ImageFolder(str(tmp_path), channels=["actin", "dapi"], objects=objects, crop_cells={"object": "nucleus", "size": 24},
                     normalize="dtype")
    assert len(ds) == len(CENTRES) and ds.image_size == (24, 24)
    assert ds.meta_keys == ("object_y", "object_x", "field") and 10 <= ds.object_diameters["nucleus"] <= 14
    centres = sorted((ds.describe(i)[1]["object_y"], ds.describe(i)[1]["object_x"]) for i in range(len(ds)))
    for (y, x), (cy, cx_) in zip(centres, sorted(CENTRES)):
        assert abs(y - cy) <= 3 and abs(x - cx_) <= 3
    for i in range(len(ds)):
        sample = ds[i]
        assert sample.images.shape == (1, 2, 24, 24) and sample.meta["field"] == "f1"
        assert sample.images[0, 1, 12, 12] > 0.7  # a nucleus is in the middle of its crop
    border = next(i for i in range(len(ds)) if ds.describe(i)[1]["object_y"] < 10)
    assert ds.raw(border).shape == (1, 2, 24, 24) and ds.raw(border)[0, 1, 0, 12] == 10  # padded with the background


# -- normalisation ------------------------------------------------------------------------------------
def test_dataset_normalisation_keeps_dim_images_dim(tmp_path: Path) -> None:
    for name, top in (("dim", 100), ("bright", 1000)):
        image = np.zeros((32, 32), np.uint16)
        image[8:24, 8:24] = top
        tifffile.imwrite(tmp_path / f"{name}.tif", image)
    per_sample = ImageFolder(str(tmp_path))
    dataset = ImageFolder(str(tmp_path), normalize="dataset", percentiles=[0, 100])
    dim = 1 if dataset.describe(1)[0] == "dim" else 0
    assert per_sample[dim].images.max() == pytest.approx(1.0)  # a per-sample stretch makes both equally bright
    assert dataset[dim].images.max() == pytest.approx(0.1)
    assert dataset.normalization["low"] == [0.0] and dataset.normalization["high"] == [1000.0]
    fixed = ImageFolder(str(tmp_path), normalize="fixed", intensity_range=[0, 2000])
    assert fixed.normalization == {"mode": "fixed", "range": [0.0, 2000.0]}
    assert fixed[dim].images.max() == pytest.approx(0.05)
    params = ImageFolderParams(path=str(tmp_path), normalize={"mode": "fixed", "range": [0, 500]})
    assert (params.normalize, params.intensity_range) == ("fixed", (0.0, 500.0))
    assert ImageFolderParams(path=".", normalize={"mode": "sample"}).normalize == "percentile"
    with pytest.raises(ValidationError, match="needs intensity_range"):
        ImageFolderParams(path=".", normalize="fixed")


def test_dataset_normalisation_through_load_dataset_on_tiles(tmp_path: Path) -> None:
    image = np.zeros((64, 64), np.uint8)
    image[:32, :32] = 200
    cv2.imwrite(str(tmp_path / "a.png"), image)
    ds = cx.load_dataset("image-folder", path=str(tmp_path), tile=32, normalize={"mode": "dataset", "percentiles": [0, 100]})
    assert ds.normalization["high"] == [200.0]
    empty = next(i for i in range(len(ds)) if ds.describe(i)[1]["tile_y"] == 32)
    assert ds[empty].images.max() == 0.0  # an empty tile stays dark instead of being stretched into noise


# -- declared objects -----------------------------------------------------------------------------------
def test_objects_are_declared_and_checked_at_open(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((2, 16, 16), np.uint8), metadata={"axes": "CYX"})
    plain = ImageFolder(str(tmp_path))
    assert [o.name for o in plain.objects] == ["object"]
    named = cx.load_dataset("image-folder", path=str(tmp_path), channels=["DAPI", "GFP"],
                            objects=[{"name": "nucleus", "channel": "dapi"}, {"name": "cell", "channel": 1, "diameter": 30}])
    assert [(o.name, o.channel_index(named.channels)) for o in named.objects] == [("nucleus", 0), ("cell", 1)]
    with pytest.raises(UserError, match="no channel 'tubulin' among DAPI, GFP"):
        ImageFolder(str(tmp_path), channels=["DAPI", "GFP"], objects=[{"name": "tube", "channel": "tubulin"}])
    with pytest.raises(UserError, match="channel 5 but images have 2"):
        TiffStack(str(tmp_path / "a.tif"), objects=[{"name": "x", "channel": 5}])
    with pytest.raises(UserError, match="hue / saturation, which needs RGB"):
        ImageFolder(str(tmp_path), objects=[{"name": "dead", "saturation": [0, 0.3]}])
    with pytest.raises(ValidationError, match="unique"):
        ImageFolderParams(path=".", objects=[{"name": "a", "channel": 0}, {"name": "a", "channel": 1}])
    with pytest.raises(ValidationError, match="not declared in objects"):
        ImageFolderParams(path=".", crop_cells={"object": "nucleus"})
    z = tmp_path / "a.zarr"
    zarr.create_array(str(z), data=np.zeros((2, 1, 1, 8, 8), np.uint8))
    assert ZarrDataset(str(z), objects=[{"name": "nucleus", "channel": 0}]).objects[0].name == "nucleus"


# -- through the pipeline ---------------------------------------------------------------------------------
def test_tiles_and_crops_run_through_the_pipeline(tmp_path: Path, registry) -> None:
    import yaml

    from cellxai_core.cli import main

    field = discs((128, 128), CENTRES, radius=6)
    tifffile.imwrite(tmp_path / "f1.tif", field)
    base = {"encoder": {"name": "test-conv"}, "fusion": {"name": "test-delta"},
            "clusterer": {"name": "test-kmeans", "params": {"n_clusters": 2}}}
    objects = [{"name": "nucleus", "channel": 0}]
    for name, extra in (("tiles", {"tile": {"size": 32, "min_foreground": 0.02}, "normalize": {"mode": "dataset"}}),
                        ("crops", {"crop_cells": {"object": "nucleus", "size": 24}})):
        spec = {**base, "dataset": {"name": "image-folder", "params": {"path": str(tmp_path), "objects": objects, **extra}}}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec))
        assert main(["run", str(path), "--out", str(tmp_path / name)]) == 0
        run = cx.open_run(str(tmp_path / name))
        if name == "tiles":
            assert 0 < len(run.store.read("samples/meta/tile_y")) < 16  # 4 x 4 tiles, the empty ones dropped
        else:
            assert len(run.store.read("samples/meta/object_y")) == len(CENTRES)
