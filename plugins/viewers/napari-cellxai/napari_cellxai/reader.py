"""The npe2 reader: a run directory (the folder holding ``store.zarr``, or the store itself) -> layer data.

``get_reader`` answers quickly and only for run directories, so napari offers other
readers for everything else; ``read_run`` opens the run through ``cellxai_core.open_run``
(also an unfinished run: what it has is shown) and builds the layers lazily.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from .layers import LayerData, build_layers

STORE = "store.zarr"

PathOrPaths = str | Path | Sequence[str | Path]


def run_dir_of(path: PathOrPaths) -> Path | None:
    """The run directory ``path`` names (a run folder or its ``store.zarr``), or None when it is not one."""
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    folder = Path(str(path)).expanduser()
    if folder.name == STORE:
        folder = folder.parent
    return folder if (folder / STORE).is_dir() else None


def get_reader(path: PathOrPaths) -> Callable[[PathOrPaths], list[LayerData]] | None:
    """npe2 reader contribution: :func:`read_run` for a cellxai run directory, None for anything else."""
    return read_run if run_dir_of(path) is not None else None


def read_run(path: PathOrPaths) -> list[LayerData]:
    """Images, Grad-CAM, pseudo-labels, cluster / class labels and the samples' features of one run, as napari layer data."""
    from cellxai_core import open_run

    folder = run_dir_of(path)
    if folder is None:
        raise ValueError(f"{path}: not a cellxai run directory (no {STORE})")
    run: Any = open_run(folder, allow_incomplete=True)
    return build_layers(run)
