"""Registration of the built-in datasets (no heavy imports: params models and target strings only)."""

from __future__ import annotations

from typing import Any

from cellxai_core.hookspecs import Register, hookimpl

from .params import (
    BioioParams,
    ImageFolderParams,
    SyntheticFluorescenceParams,
    SyntheticMicrowellParams,
    TiffStackParams,
    ZarrParams,
)


@hookimpl
def cellxai_datasets(register: Register) -> None:
    register(
        "synthetic-microwell",
        summary="Synthetic CAR-T / cancer microwell time-lapses with planted response programs (truth: program, masks, counts)",
        params=SyntheticMicrowellParams,
        target="cellxai_core.datasets.microwell:SyntheticMicrowell",
    )
    register(
        "synthetic-fluorescence",
        summary="Synthetic vimentin / actin / DAPI single cells, normal vs metastatic (truth: class, cell and nucleus mask)",
        params=SyntheticFluorescenceParams,
        target="cellxai_core.datasets.fluorescence:SyntheticFluorescence",
    )
    register(
        "image-folder",
        summary="PNG / TIFF / OME-TIFF files grouped into samples by a CSV manifest or a file-name pattern; tiles or cell crops",
        params=ImageFolderParams,
        target="cellxai_core.datasets.image_folder:ImageFolder",
    )
    register(
        "tiff-stack",
        summary="One TIFF (time-lapse, z-stack or 2-D image) cut into samples by frames, z planes, tiles or cell crops",
        params=TiffStackParams,
        target="cellxai_core.datasets.tiff_stack:TiffStack",
    )
    register(
        "zarr",
        summary="A Zarr / OME-Zarr array (N, S, C, H, W) or an OME-Zarr HCS plate (row / column / field); tiles or cell crops",
        params=ZarrParams,
        target="cellxai_core.datasets.zarr_store:ZarrDataset",
    )
    register(
        "bioio",
        summary="Any file a bioio reader plugin opens (OME-TIFF, TIFF; ND2, CZI, LIF ... with their plugin): scenes x time points x tiles",
        params=BioioParams,
        target="cellxai_core.datasets.bioio_reader:BioioDataset",
    )


@hookimpl
def cellxai_commands(cli: Any) -> None:
    """``cellxai datasets preview``: look at a dataset before running a pipeline on it."""
    from .cli import datasets_app

    cli.add_typer(datasets_app, name="datasets")
