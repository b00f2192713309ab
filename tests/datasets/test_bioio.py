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
    assert sample.meta == {"scene": "Image:2", "scene_index": 2, "timepoint": 0, "tile_row": 0, "tile_col": 0, "y0": 0, "x0": 0}
    assert ds.describe(2) == (sample.id, sample.meta, {})


@pytest.mark.parametrize("set_axis", ["channel", "image", "z"])
def test_other_set_axes_make_each_time_point_and_tile_a_sample(tmp_path: Path, set_axis: str) -> None:
    data = scenes_file(tmp_path / "p.ome.tiff", n=2)
    ds = BioioDataset(str(tmp_path / "p.ome.tiff"), set_axis=set_axis, tile=(12, 16), timepoints=[1, 3], normalize="dtype")
    assert len(ds) == 2 * 2 * 4  # scenes x time points x tiles
    last = ds[len(ds) - 1]
    assert last.id == "Image_1_t3_y12_x16" and last.meta["timepoint"] == 3
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
    with pytest.raises(DataError, match="different sizes"):
        BioioDataset(str(tmp_path / "mixed.ome.tiff"))
    assert BioioDataset(str(tmp_path / "mixed.ome.tiff"), resize=16)[1].images.shape == (2, 1, 16, 16)
    tiled = BioioDataset(str(tmp_path / "mixed.ome.tiff"), tile=10)
    assert len(tiled) == 4 + 4 and tiled.image_size == (10, 10)


def test_params_are_validated_and_registered() -> None:
    from cellxai_core.datasets.params import BioioParams
    from cellxai_core.registry import get_registry

    assert "bioio" in get_registry().names("dataset")
    assert BioioParams(path="x.nd2", tile=[8, 12]).tile == (8, 12)
    with pytest.raises(ValueError):
        BioioParams(path="x.nd2", set_axis="frames")


def test_a_multi_scene_ome_tiff_runs_through_the_pipeline(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1]))
    import core_plugin

    import cellxai_core as cx
    from cellxai_core.testing import use_plugins

    scenes_file(tmp_path / "plate.ome.tiff", n=6, shape=(3, 2, 1, 16, 16))
    cfg = {**core_plugin.PIPELINE, "dataset": {"name": "bioio", "params": {"path": str(tmp_path / "plate.ome.tiff")}},
           "explainers": []}
    with use_plugins(core_plugin, installed=True):
        run = cx.run(cfg, out=tmp_path / "run")
    assert run.status == "complete" and list(run.ids) == [f"Image_{i}" for i in range(6)]
    assert run.array("features/handcrafted").shape == (6, 3, 2) and len(run.labels) == 6
    assert list(run.array("samples/meta/scene")) == [f"Image:{i}" for i in range(6)]
