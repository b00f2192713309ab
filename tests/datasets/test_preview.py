"""cellxai datasets preview: a PNG of the expected size from a dataset name or a pipeline file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml

from cellxai_core.cli import main
from cellxai_core.datasets.cli import parse_settings


def read_png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert image is not None, f"{path} is not a PNG"
    return image[..., ::-1]


def test_preview_of_a_dataset_name(tmp_path: Path, capsys) -> None:
    out = tmp_path / "mw.png"
    code = main(["datasets", "preview", "synthetic-microwell", "--out", str(out), "--n", "2", "--set", "n_wells=3", "--set", "size=64"])
    assert code == 0, capsys.readouterr().err
    image = read_png(out)
    # 64 px tiles are enlarged x2; a header line, 2 rows of 5 days, a label column, 4 px gaps
    assert image.shape == (22 + 2 * (128 + 4) + 4, 150 + 5 * (128 + 4) + 4, 3)
    # the tiles show the wells: green cancer and red T cells on a dark background
    tile = image[22 : 22 + 128, 154 : 154 + 128].astype(float)
    assert np.median(tile) < 40 and (tile[..., 1] > 120).mean() > 0.02 and (tile[..., 0] > 120).mean() > 0.01
    assert "wrote" in capsys.readouterr().out


def test_preview_of_isolated_channels_adds_a_merged_column(tmp_path: Path, capsys) -> None:
    out = tmp_path / "fl.png"
    args = ["datasets", "preview", "synthetic-fluorescence", "--out", str(out), "--n", "3", "--set", "set_axis=channel", "--set", "size=128"]
    assert main(args) == 0, capsys.readouterr().err
    image = read_png(out)
    assert image.shape == (22 + 3 * (128 + 4) + 4, 150 + 4 * (128 + 4) + 4, 3)
    vimentin = image[22 : 22 + 128, 154 : 154 + 128].astype(int)
    assert vimentin[..., 0].max() > 120 and vimentin[..., 1:].max() < 30  # vimentin in false-colour red


def test_preview_of_a_pipeline_file(tmp_path: Path, capsys) -> None:
    pipeline = tmp_path / "pipeline.yaml"
    spec = {"seed": 0, "dataset": {"name": "synthetic-fluorescence", "params": {"n_cells": 4, "size": 64}}, "encoder": {"name": "x"}}
    pipeline.write_text(yaml.safe_dump(spec))
    out = tmp_path / "sub" / "p.png"
    assert main(["datasets", "preview", str(pipeline), "--out", str(out), "--set", "size=32"]) == 0, capsys.readouterr().err
    assert read_png(out).shape == (22 + 4 * (128 + 4) + 4, 150 + 1 * (128 + 4) + 4, 3)


def test_preview_errors_exit_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("encoder: {name: unet}\n")
    assert main(["datasets", "preview", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    assert "bad.yaml: field 'dataset.name' is missing" in capsys.readouterr().err
    assert main(["datasets", "preview", "no-such-dataset", "--out", str(tmp_path / "x.png")]) == 2
    assert "unknown dataset 'no-such-dataset'" in capsys.readouterr().err
    assert main(["datasets", "preview", "synthetic-microwell", "--set", "n_wells=0", "--out", str(tmp_path / "x.png")]) == 2
    assert "n_wells" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_parse_settings() -> None:
    got = parse_settings(["n_wells=16", "programs=[clearance, escape]", "dataset.params.trend=0.5", "path=a b.csv"])
    assert got == {"n_wells": 16, "programs": ["clearance", "escape"], "trend": 0.5, "path": "a b.csv"}
