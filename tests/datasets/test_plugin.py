"""The built-in datasets register like any plugin, cheaply, and build through the registry."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from cellxai_core.data import Dataset
from cellxai_core.datasets.params import ImageFolderParams, SyntheticMicrowellParams
from cellxai_core.registry import get_registry

NAMES = {"synthetic-microwell", "synthetic-fluorescence", "image-folder", "tiff-stack", "zarr"}


def test_registered_through_the_entry_point() -> None:
    registry = get_registry()
    assert NAMES <= set(registry.names("dataset"))
    for name in NAMES:
        assert registry.get("dataset", name).distribution == "cellxai"


def test_registration_imports_nothing_heavy() -> None:
    code = (
        "import sys, cellxai_core.datasets.plugin;"
        "print(sorted(m for m in ('numpy', 'cv2', 'torch', 'tifffile', 'zarr', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("name", "params", "shape"),
    [
        ("synthetic-microwell", {"n_wells": 2, "size": 64, "days": 3}, (3, 3, 64, 64)),
        ("synthetic-fluorescence", {"n_cells": 2, "size": 32}, (1, 3, 32, 32)),
    ],
)
def test_built_from_the_registry(name: str, params: dict, shape: tuple) -> None:
    registration = get_registry().get("dataset", name)
    validated = registration.params.model_validate(params)
    ds = registration.load()(**validated.model_dump())
    assert isinstance(ds, Dataset)
    sample = ds[1]
    assert sample.images.shape == shape == (ds.set_size, len(ds.channels), *ds.image_size)


def test_params_are_checked() -> None:
    with pytest.raises(ValidationError, match="unknown program"):
        SyntheticMicrowellParams(programs=["clearance", "victory"])
    with pytest.raises(ValidationError, match="extra"):
        SyntheticMicrowellParams(wells=3)
    with pytest.raises(ValidationError, match="percentiles"):
        ImageFolderParams(path="x", percentiles=(99, 1))
    with pytest.raises(ValidationError, match="either channels"):
        ImageFolderParams(path="x", channels=["a"], channel_map={"0": "a"})
    assert ImageFolderParams(path="x", resize=64).resize == (64, 64)
