"""Bad files: each gives a DataError naming the file and the problem, and exit code 2 with one line from the CLI."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import yaml
import zarr

from cellxai_core.cli import main
from cellxai_core.datasets.image_folder import ImageFolder
from cellxai_core.datasets.tiff_stack import TiffStack
from cellxai_core.datasets.zarr_store import ZarrDataset
from cellxai_core.errors import ConfigError, DataError


def png(path: Path, shape=(8, 8)) -> Path:
    cv2.imwrite(str(path), np.zeros(shape, np.uint8))
    return path


def test_manifest_lists_a_missing_file(tmp_path: Path) -> None:
    png(tmp_path / "a.png")
    (tmp_path / "m.csv").write_text("sample,time,path\ns,0,a.png\ns,1,gone.png\n")
    with pytest.raises(DataError, match=r"m\.csv: row 3 lists gone\.png, which does not exist"):
        ImageFolder(str(tmp_path / "m.csv"))


def test_unreadable_png(tmp_path: Path) -> None:
    png(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"\x89PNG but truncated")
    with pytest.raises(DataError, match=r"b\.png: unreadable image"):
        ImageFolder(str(tmp_path))


def test_unreadable_tiff(tmp_path: Path) -> None:
    (tmp_path / "w_1.tif").write_bytes(b"II*\x00garbage that is not a tiff")
    with pytest.raises(DataError, match=r"w_1\.tif: unreadable image"):
        ImageFolder(str(tmp_path), pattern="{well}_{day}.tif")


def test_inconsistent_shapes_within_a_sample(tmp_path: Path) -> None:
    png(tmp_path / "w_1.png", (8, 8))
    png(tmp_path / "w_2.png", (8, 9))
    with pytest.raises(DataError, match=r"w_2\.png: shape \(1, 8, 9\).*differs from w_1\.png.*sample w"):
        ImageFolder(str(tmp_path), pattern="{well}_{day}.png")


def test_sizes_across_samples_need_resize(tmp_path: Path) -> None:
    png(tmp_path / "a.png", (8, 8))
    png(tmp_path / "b.png", (6, 6))
    with pytest.raises(DataError, match=r"b\.png: size \(6, 6\) differs from a\.png.*resize"):
        ImageFolder(str(tmp_path))
    assert ImageFolder(str(tmp_path), resize=4)[1].images.shape == (1, 1, 4, 4)


@pytest.mark.parametrize("missing", ["path", "sample"])
def test_manifest_without_a_required_column(tmp_path: Path, missing: str) -> None:
    png(tmp_path / "a.png")
    columns = [c for c in ("sample", "path") if c != missing]
    values = {"sample": "s", "path": "a.png"}
    (tmp_path / "m.csv").write_text(",".join(columns) + "\n" + ",".join(values[c] for c in columns) + "\n")
    with pytest.raises(DataError, match=rf"m\.csv: manifest has no '{missing}' column"):
        ImageFolder(str(tmp_path / "m.csv"))


def test_pattern_that_matches_nothing(tmp_path: Path) -> None:
    png(tmp_path / "cell_a.png")
    with pytest.raises(DataError, match=rf"{tmp_path.name}: pattern '{{well}}_{{day}}.tif' matches no file \(found: cell_a\.png\)"):
        ImageFolder(str(tmp_path), pattern="{well}_{day}.tif")


def test_sample_missing_a_day(tmp_path: Path) -> None:
    for name in ("A_1", "A_2", "B_1"):
        png(tmp_path / f"{name}.png")
    with pytest.raises(DataError, match=r"sample B has time \[1\] but sample A has \[1, 2\]"):
        ImageFolder(str(tmp_path), pattern="{well}_{day}.png")


def test_per_channel_file_with_several_channels(tmp_path: Path) -> None:
    png(tmp_path / "s_dapi.png")
    cv2.imwrite(str(tmp_path / "s_actin.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DataError, match=r"s_actin\.png: has 3 channels; a per-channel file must hold one"):
        ImageFolder(str(tmp_path), pattern="{sample}_{channel}.png")


def test_time_lapse_file_in_image_folder(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "m.tif", np.zeros((4, 2, 8, 8), np.uint16), metadata={"axes": "TCYX"}, imagej=True)
    with pytest.raises(DataError, match=r"m\.tif: has axes TCYX with T=4.*tiff-stack"):
        ImageFolder(str(tmp_path))


def test_missing_folder_and_bad_set_axis(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nowhere: no such file or folder"):
        ImageFolder(str(tmp_path / "nowhere"))
    png(tmp_path / "w_1.png")
    with pytest.raises(ConfigError, match="set_axis 'channel' does not fit files that are time points"):
        ImageFolder(str(tmp_path), pattern="{well}_{day}.png", set_axis="channel")


def test_tiff_stack_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"none\.tif: file does not exist"):
        TiffStack(str(tmp_path / "none.tif"))
    tifffile.imwrite(tmp_path / "tz.tif", np.zeros((2, 3, 8, 8), np.uint8), metadata={"axes": "TZYX"})
    with pytest.raises(DataError, match=r"tz\.tif: has axes TZYX .* bioio"):
        TiffStack(str(tmp_path / "tz.tif"), axis="z")
    tifffile.imwrite(tmp_path / "short.tif", np.zeros((3, 8, 8), np.uint8), photometric="minisblack")
    with pytest.raises(ConfigError, match=r"short\.tif: 3 frames in 1 windows leave 3 per window, fewer than frames=5"):
        TiffStack(str(tmp_path / "short.tif"))


def test_zarr_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"absent\.zarr: no such Zarr store"):
        ZarrDataset(str(tmp_path / "absent.zarr"))
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("other", data=np.zeros((2, 3), np.uint8))
    with pytest.raises(DataError, match=r"g\.zarr: no array 'images' in the store \(found: other\)"):
        ZarrDataset(str(tmp_path / "g.zarr"))
    with pytest.raises(DataError, match=r"g\.zarr/other: array of shape \(2, 3\)"):
        ZarrDataset(str(tmp_path / "g.zarr"), array="other")
    plate = zarr.open_group(str(tmp_path / "p.zarr"), mode="w", zarr_format=2)
    plate.attrs["plate"] = {"rows": [{"name": "A"}], "columns": [{"name": "1"}], "wells": [{"path": "A/1", "rowIndex": 0, "columnIndex": 0}]}
    with pytest.raises(DataError, match=r"p\.zarr: plate lists well A/1, which is not in the store"):
        ZarrDataset(str(tmp_path / "p.zarr"))


def test_cli_exit_code_2_with_one_line_naming_the_file(tmp_path: Path, capsys) -> None:
    png(tmp_path / "w_1.png", (8, 8))
    png(tmp_path / "w_2.png", (9, 8))
    pipeline = tmp_path / "pipeline.yaml"
    spec = {"dataset": {"name": "image-folder", "params": {"path": str(tmp_path), "pattern": "{well}_{day}.png"}}}
    pipeline.write_text(yaml.safe_dump(spec))
    code = main(["datasets", "preview", str(pipeline), "--out", str(tmp_path / "p.png")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "w_2.png" in err and "differs from w_1.png" in err and "Traceback" not in err
