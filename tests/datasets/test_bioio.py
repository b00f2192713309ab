"""The ``bioio`` dataset on files written by bioio's own writer: axes to samples and set, values, laziness, errors.

The pipeline test runs a multi-scene OME-TIFF end to end with the core's fast test components.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bioio")
pytest.importorskip("bioio_ome_tiff")

from bioio.writers import OmeTiffWriter  # noqa: E402

from cellxai_core.datasets.bioio_reader import BioioDataset  # noqa: E402
from cellxai_core.errors import ConfigError, DataError  # noqa: E402

RNG = np.random.default_rng(0)


def scenes_file(path: Path, n: int = 3, shape: tuple[int, ...] = (4, 2, 3, 24, 32)) -> list[np.ndarray]:
    """``n`` scenes of TCZYX uint16 data written as one OME-TIFF with named channels; returns the data."""
    data = [RNG.integers(0, 65536, shape, dtype=np.uint16) for _ in range(n)]
    OmeTiffWriter.save(data, path, dim_order="TCZYX", channel_names=[["DAPI", "GFP"][: shape[1]]] * n)
    return data


def dtype_scaled(raw: np.ndarray) -> np.ndarray:
    return (raw / np.float32(65535)).astype(np.float32)


def test_scenes_are_samples_and_time_is_the_set(tmp_path: Path) -> None:
    data = scenes_file(tmp_path / "plate.ome.tiff")
    ds = BioioDataset(str(tmp_path / "plate.ome.tiff"), normalize="dtype")
    assert (len(ds), ds.set_axis, ds.set_size, ds.image_size, ds.channels) == (3, "time", 4, (24, 32), ("DAPI", "GFP"))
    assert ds.set_labels == ("t 0", "t 1", "t 2", "t 3")
    sample = ds[2]
    assert sample.id == "Image_2" and sample.images.shape == (4, 2, 24, 32)  # bioio's scene id, made file-name safe
    assert np.allclose(sample.images, dtype_scaled(data[2].max(axis=2)), atol=1e-6)  # z max-projected
    assert sample.meta == {"scene": "Image:2", "scene_index": 2, "timepoint": 0} and ds.meta_keys == ("scene", "scene_index", "timepoint")
    assert ds.describe(2) == (sample.id, sample.meta, {})


@pytest.mark.parametrize("set_axis", ["channel", "image", "z"])
def test_other_set_axes_make_each_time_point_and_tile_a_sample(tmp_path: Path, set_axis: str) -> None:
    data = scenes_file(tmp_path / "p.ome.tiff", n=2)
    ds = BioioDataset(str(tmp_path / "p.ome.tiff"), set_axis=set_axis, tile=(12, 16), timepoints=[1, 3], normalize="dtype")
    assert len(ds) == 2 * 2 * 4  # scenes x time points x tiles
    last = ds[len(ds) - 1]
    assert last.id == "Image_1_t3_y12_x16" and last.meta["timepoint"] == 3
    assert (last.meta["tile_row"], last.meta["tile_col"], last.meta["tile_y"], last.meta["tile_x"]) == (1, 1, 12, 16)  # as the other readers
    tile = data[1][3, :, :, 12:24, 16:32]  # (C, Z, 12, 16)
    if set_axis == "channel":
        assert (ds.channels, ds.set_labels, ds.set_axis) == (("intensity",), ("DAPI", "GFP"), "channel")
        expected = tile.max(axis=1)[:, None]
    elif set_axis == "image":
        assert (ds.set_size, ds.channels) == (1, ("DAPI", "GFP"))
        expected = tile.max(axis=1)[None]
    else:
        assert (ds.set_axis, ds.set_labels, ds.channels) == ("image", ("z 0", "z 1", "z 2"), ("DAPI", "GFP"))
        expected = tile.transpose(1, 0, 2, 3)
    assert np.allclose(last.images, dtype_scaled(expected), atol=1e-6)


def test_reading_is_lazy_per_scene_and_pickles(tmp_path: Path) -> None:
    scenes_file(tmp_path / "p.ome.tiff")
    ds = BioioDataset(str(tmp_path / "p.ome.tiff"), scenes=["Image:1", 2], channel_map={"1": "gfp"})
    assert not ds._data and len(ds) == 2 and ds.channels == ("gfp",)
    first = ds[0]
    assert set(ds._data) == {1}  # only the scene read so far has a dask array, and nothing is computed ahead
    again = pickle.loads(pickle.dumps(ds))  # the dask executor ships datasets to worker processes
    assert np.array_equal(again[0].images, first.images) and again[1].id == "Image_2"


def test_rgb_samples_become_three_channels(tmp_path: Path) -> None:
    rgb = RNG.integers(0, 256, (2, 1, 1, 16, 16, 3), dtype=np.uint8)
    OmeTiffWriter.save(rgb, tmp_path / "rgb.ome.tiff", dim_order="TCZYXS")
    ds = BioioDataset(str(tmp_path / "rgb.ome.tiff"), normalize="dtype")
    assert ds.channels == ("red", "green", "blue") and ds[0].images.shape == (2, 3, 16, 16)
    assert np.allclose(ds[0].images, rgb[:, 0, 0].transpose(0, 3, 1, 2) / np.float32(255), atol=1e-6)


def test_errors_name_the_file_and_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        BioioDataset(str(tmp_path / "missing.czi"))
    (tmp_path / "junk.czi").write_bytes(b"not an image")
    with pytest.raises(DataError, match="pip install bioio-"):
        BioioDataset(str(tmp_path / "junk.czi"))
    scenes_file(tmp_path / "p.ome.tiff", n=2)
    with pytest.raises(ConfigError, match="scenes"):
        BioioDataset(str(tmp_path / "p.ome.tiff"), scenes=[5])
    with pytest.raises(ConfigError, match="timepoints"):
        BioioDataset(str(tmp_path / "p.ome.tiff"), timepoints=[9])
    with pytest.raises(ConfigError, match="not installed"):
        BioioDataset(str(tmp_path / "p.ome.tiff"), reader="bioio_nope")
    with pytest.raises(ConfigError, match="tile"):
        BioioDataset(str(tmp_path / "p.ome.tiff"), tile=64)


def test_scenes_of_different_sizes_need_tiles_or_resize(tmp_path: Path) -> None:
    arrays = [RNG.integers(0, 255, (2, 1, 1, h, w), dtype=np.uint8) for h, w in ((20, 20), (24, 28))]
    OmeTiffWriter.save(arrays, tmp_path / "mixed.ome.tiff", dim_order="TCZYX")
    with pytest.raises(DataError, match="differs .* set resize or tile"):
        BioioDataset(str(tmp_path / "mixed.ome.tiff"))
    assert BioioDataset(str(tmp_path / "mixed.ome.tiff"), resize=16)[1].images.shape == (2, 1, 16, 16)
    tiled = BioioDataset(str(tmp_path / "mixed.ome.tiff"), tile=10)
    assert len(tiled) == 4 + 4 and tiled.image_size == (10, 10)


def test_params_are_validated_and_registered() -> None:
    from cellxai_core.datasets.params import BioioParams
    from cellxai_core.registry import get_registry

    assert "bioio" in get_registry().names("dataset")
    assert BioioParams(path="x.nd2", tile=[8, 12]).tile.size == (8, 12)  # tile: [h, w] is tile: {size: [h, w]}
    given = BioioParams(path="x.nd2", tile={"size": 16, "min_foreground": 0.1}, stride=8)
    assert (given.tile.size, given.tile.min_foreground, given.stride) == ((16, 16), 0.1, (8, 8))
    with pytest.raises(ValueError, match="not declared"):
        BioioParams(path="x.nd2", crop_cells={"object": "nucleus"})
    with pytest.raises(ValueError, match="either tile or crop_cells"):
        BioioParams(path="x.nd2", tile=8, crop_cells={"object": "n"}, objects=[{"name": "n", "channel": 0}])
    with pytest.raises(ValueError):
        BioioParams(path="x.nd2", set_axis="frames")


def blob_file(path: Path, discs: list[list[tuple[int, int, int, int]]], shape: tuple[int, ...] = (2, 2, 1, 32, 48)) -> None:
    """Scenes of dim noise (DAPI, GFP; about 100 +- 5) with bright discs (channel, y, x, radius) of 3000 at every time point."""
    yy, xx = np.mgrid[: shape[3], : shape[4]]
    data = []
    for scene in discs:
        image = RNG.normal(100, 5, shape)
        for channel, cy, cx, r in scene:
            image[:, channel, :, (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = 3000
        data.append(image.astype(np.uint16))
    OmeTiffWriter.save(data, path, dim_order="TCZYX", channel_names=[["DAPI", "GFP"]] * len(discs))


# tiles of 16 px: 2 rows x 3 columns per scene; a disc of radius 5 fills ~0.3 of its tile
TILED = [[(0, 8, 8, 5), (0, 24, 40, 5)], [(0, 8, 24, 5), (1, 24, 8, 5)], []]  # scene 2 is empty; scene 1 has a GFP-only tile


def test_min_foreground_drops_the_empty_tiles(tmp_path: Path) -> None:
    blob_file(tmp_path / "p.ome.tiff", TILED)
    every = BioioDataset(str(tmp_path / "p.ome.tiff"), tile=16)
    assert len(every) == 3 * 6 and every.meta_keys[-4:] == ("tile_row", "tile_col", "tile_y", "tile_x")
    assert len(BioioDataset(str(tmp_path / "p.ome.tiff"), tile=16, stride=8)) == 3 * 3 * 5  # the old tile + stride still works
    ds = BioioDataset(str(tmp_path / "p.ome.tiff"), tile={"size": 16, "min_foreground": 0.1})
    kept = [(m["scene_index"], m["tile_y"], m["tile_x"]) for m in (ds.describe(i)[1] for i in range(len(ds)))]
    assert kept == [(0, 0, 0), (0, 16, 32), (1, 0, 16), (1, 16, 0)]  # one disc each; a GFP-only disc counts too
    assert [ds.describe(i)[0] for i in (0, 3)] == ["Image_0_y0_x0", "Image_1_y16_x0"]
    assert ds.normalization["tiles_total"] == 18 and ds.normalization["tiles_kept"] == 4
    assert 110 < ds.normalization["foreground_thresholds"][0] < 3000  # above the noise (100 +- 5), below the discs
    sample = ds[3]
    assert sample.images.shape == (2, 2, 16, 16) and sample.images[:, 1, 8, 8].min() > 0.9  # the GFP disc, bright
    with pytest.raises(DataError, match="no tile of 18 has min_foreground"):
        BioioDataset(str(tmp_path / "p.ome.tiff"), tile={"size": 16, "min_foreground": 0.9})


CELLS = [[(0, 10, 12, 4), (0, 20, 34, 4), (0, 3, 44, 4)], [(0, 16, 24, 4)]]  # one disc at the border (y 3, x 44)
NUCLEUS = [{"name": "nucleus", "channel": "DAPI", "diameter": 8}]


def test_crop_cells_centres_one_sample_on_each_object(tmp_path: Path) -> None:
    blob_file(tmp_path / "c.ome.tiff", CELLS)
    ds = BioioDataset(str(tmp_path / "c.ome.tiff"), objects=NUCLEUS, crop_cells={"object": "nucleus", "size": 16})
    assert len(ds) == 4 and ds.image_size == (16, 16) and ds.object_diameters == {"nucleus": 8.0}
    centres = sorted((m["scene_index"], m["object_y"], m["object_x"]) for m in (ds.describe(i)[1] for i in range(4)))
    want = sorted((s, y, x) for s, scene in enumerate(CELLS) for _, y, x, _ in scene)
    assert all(a[0] == b[0] and abs(a[1] - b[1]) <= 1 and abs(a[2] - b[2]) <= 1 for a, b in zip(centres, want)), centres
    for i in range(4):
        sample = ds[i]
        assert sample.id.startswith(f"Image_{sample.meta['scene_index']}_nucleus") and sample.images.shape == (2, 2, 16, 16)
        dapi = sample.images[0, 0]
        assert dapi[7:10, 7:10].min() > 0.9 and dapi[[0, 0, -1, -1], [0, -1, 0, -1]].max() < 0.2  # centred: bright middle, dark corners
    by_set = BioioDataset(str(tmp_path / "c.ome.tiff"), set_axis="channel", objects=NUCLEUS,
                          crop_cells={"object": "nucleus", "size": 16})  # objects name the isolated channels
    assert len(by_set) == 2 * 4 and by_set[0].images.shape == (2, 1, 16, 16) and by_set[0].images[0, 0, 8, 8] > 0.9
    with pytest.raises(ConfigError, match="crop_cells object 'cell'"):
        BioioDataset(str(tmp_path / "c.ome.tiff"), objects=NUCLEUS, crop_cells={"object": "cell", "size": 16})


def test_a_multi_scene_ome_tiff_runs_through_cellxai_run(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import sys

    import yaml

    sys.path.insert(0, str(Path(__file__).parents[1]))
    import core_plugin

    import cellxai_core as cx
    from cellxai_core.cli import main
    from cellxai_core.testing import use_plugins

    blob_file(tmp_path / "plate.ome.tiff", TILED * 2)  # 6 scenes, 8 tiles with a disc
    dataset = {"name": "bioio", "params": {"path": str(tmp_path / "plate.ome.tiff"), "tile": {"size": 16, "min_foreground": 0.1}}}
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump({**core_plugin.PIPELINE, "dataset": dataset, "explainers": []}))
    with use_plugins(core_plugin, installed=True):
        code = main(["run", str(tmp_path / "pipeline.yaml"), "--out", str(tmp_path / "run")])
    assert code == 0, capsys.readouterr().err
    run = cx.open_run(tmp_path / "run")
    assert list(run.ids)[:4] == ["Image_0_y0_x0", "Image_0_y16_x32", "Image_1_y0_x16", "Image_1_y16_x0"] and len(run.ids) == 8
    assert run.array("features/handcrafted").shape == (8, 2, 2) and len(run.labels) == 8
    assert list(run.array("samples/meta/scene")) == ["Image:0", "Image:0", "Image:1", "Image:1", "Image:3", "Image:3", "Image:4", "Image:4"]
    assert list(run.array("samples/meta/tile_x"))[:4] == [0, 32, 16, 0]
