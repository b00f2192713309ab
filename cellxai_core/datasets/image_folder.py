"""``image-folder``: PNG / TIFF / OME-TIFF files grouped into samples.

Opening checks every file's header (exists, readable, one image per file, the same
shape within a sample, and across samples unless ``resize`` or ``tile`` is set); pixels
are read only when a sample is accessed. Grouping comes from a CSV manifest, a file-name
pattern, or one file per sample (see :mod:`.grouping`). With ``tile`` each file group is
cut into tiles (TIFF read region by region; PNG / JPEG decoded once per file and kept),
with ``crop_cells`` into crops around objects (see :mod:`.regions`).

Per-channel files: their order is the manifest's row order, or for a pattern the order of
the names in ``channels`` when those are the file names' channel values (else sorted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cellxai_core.errors import ConfigError, DataError

from .grouping import Grouping, from_folder, from_manifest, from_pattern
from .imageio import FileRegions, ImageInfo, probe
from .intensity import MAX_PIXELS, Transform, default_channel_names, select_channels
from .regions import RegionReader

MANIFEST_NAME = "manifest.csv"


def open_grouping(path: str, pattern: str | None) -> Grouping:
    """The grouping of ``path``: a manifest CSV, a folder with a pattern or manifest.csv, or a plain folder."""
    source = Path(path).expanduser()
    if not source.exists():
        raise DataError(f"{source}: no such file or folder")
    if source.is_file():
        if source.suffix.lower() != ".csv":
            raise DataError(f"{source}: expected a folder or a CSV manifest")
        if pattern:
            raise ConfigError(f"{source}: give either a manifest or a pattern, not both")
        return from_manifest(source)
    if pattern:
        return from_pattern(source, pattern)
    if (source / MANIFEST_NAME).is_file():
        return from_manifest(source / MANIFEST_NAME)
    return from_folder(source)


def channel_order(keys: Sequence[Any], channels: Sequence[str] | None) -> tuple[list[int], Sequence[str] | None]:
    """Per-channel files in the order ``channels`` names them (case-insensitive) when it names the files' channels,
    else in the files' order; ``channels`` then names them in that order."""
    lowered = [str(k).lower() for k in keys]
    if channels is None or not any(str(c).lower() in lowered for c in channels):
        return list(range(len(keys))), channels
    missing = [c for c in channels if str(c).lower() not in lowered]
    if missing or len(channels) != len(keys):
        raise ConfigError(f"channels {list(channels)} must name each channel of the files once: {[str(k) for k in keys]}")
    return [lowered.index(str(c).lower()) for c in channels], channels


class ImageFolder(RegionReader):
    """Samples of image files: time points, isolated channels, or one multi-channel image each."""

    def __init__(
        self,
        path: str,
        pattern: str | None = None,
        set_axis: str | None = None,
        channels: Sequence[str] | None = None,
        channel_map: dict[str, str] | None = None,
        normalize: str = "percentile",
        percentiles: Sequence[float] = (1.0, 99.8),
        normalize_over: str = "sample",
        crop: int | Sequence[int] | None = None,
        resize: int | Sequence[int] | None = None,
        max_pixels: int = MAX_PIXELS,
        intensity_range: Sequence[float] | None = None,
        objects: Sequence[Any] | None = None,
        tile: Any = None,
        crop_cells: Any = None,
    ) -> None:
        self.grouping = open_grouping(path, pattern)
        self.transform = Transform.from_params(normalize, percentiles, normalize_over, crop, resize, max_pixels, intensity_range)
        kind = self.grouping.kind
        self.set_axis = self._set_axis(kind, set_axis)
        infos = self._check_files()
        first = infos[0][0]
        where = str(self.grouping.source)
        self._file_order = list(range(len(self.grouping.groups[0].paths)))
        if kind == "channel":
            self._file_order, channels = channel_order(self.grouping.groups[0].keys, channels) if not channel_map else (self._file_order, channels)
            source_names = [str(self.grouping.groups[0].keys[i]) for i in self._file_order]
        else:
            source_names = list(first.channel_names or default_channel_names(first.shape[0], first.path.suffix.lower() == ".png"))
            source_names = [str(i) for i in range(first.shape[0])] if channel_map else source_names
        self._pick, names = select_channels(source_names, channels, channel_map, where)
        self._dtype = first.dtype
        self._files = FileRegions(keep=2 * len(self.grouping.groups[0].paths))
        self._shapes = [g[0].shape[1:] for g in infos]
        n_set = len(self.grouping.groups[0].paths)
        if self.set_axis == "channel":
            self.channels: tuple[str, ...] = ("intensity",)
            self.set_labels: tuple[str, ...] = names
            self.set_size = len(names)
        elif self.set_axis == "image":
            self.channels, self.set_labels, self.set_size = names, ("image",), 1
        else:
            self.channels, self.set_size = names, n_set
            self.set_labels = tuple(f"{kind if kind != 'single' else 'image'} {k}" for k in self.grouping.groups[0].keys)
        self._base_meta = self.grouping.meta_keys
        found = sorted({g.klass for g in self.grouping.groups if g.klass is not None})
        unlabelled = [g.id for g in self.grouping.groups if g.klass is None]
        if found and unlabelled:
            raise DataError(f"{where}: samples {unlabelled[:3]} have no class while others do")
        self.classes: tuple[str, ...] | None = tuple(found) if found else None
        self.truth_keys: tuple[str, ...] = ("class",) if self.classes else ()
        object_names = self.set_labels if self.set_axis == "channel" else self.channels
        self._init_regions(tile, crop_cells, objects, object_names, where)

    @staticmethod
    def _set_axis(kind: str, requested: str | None) -> str:
        allowed = {"time": ("time",), "channel": ("image", "channel"), "single": ("image", "channel")}[kind]
        if requested is None:
            return allowed[0]
        if requested not in allowed:
            what = {"time": "files that are time points", "channel": "files that are channels", "single": "one file per sample"}[kind]
            raise ConfigError(f"set_axis '{requested}' does not fit {what}; use one of {', '.join(allowed)}")
        return requested

    def _check_files(self) -> list[list[ImageInfo]]:
        """Probe every file's header: readable, one image, consistent shapes."""
        infos = [[probe(p) for p in g.paths] for g in self.grouping.groups]
        reference = infos[0][0]
        for group, group_infos in zip(self.grouping.groups, infos):
            head = group_infos[0]
            for info in group_infos:
                if info.shape[1:] != head.shape[1:] or (self.grouping.kind != "channel" and info.shape != head.shape):
                    raise DataError(
                        f"{info.path}: shape {info.shape} (C, H, W) differs from {head.path.name} {head.shape} in sample {group.id}"
                    )
                if self.grouping.kind == "channel" and info.shape[0] != 1:
                    raise DataError(f"{info.path}: has {info.shape[0]} channels; a per-channel file must hold one")
            if head.shape[0] != reference.shape[0]:
                raise DataError(f"{head.path}: has {head.shape[0]} channels but {reference.path.name} has {reference.shape[0]}")
        return infos

    # -- fields of the region reader: one per file group -------------------------------------------
    def _field_count(self) -> int:
        return len(self.grouping.groups)

    def _field_shape(self, field: int) -> tuple[int, int]:
        return self._shapes[field]

    def _field_where(self, field: int) -> str:
        return str(self.grouping.groups[field].paths[0])

    def _field_info(self, field: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
        group = self.grouping.groups[field]
        return group.id, dict(group.meta), ({"class": group.klass} if self.classes else {})

    def _read_region(self, field: int, ys: slice, xs: slice) -> np.ndarray:
        """The selected channels of a region of file group ``field``, (T, C, h, w) in the files' dtype (T = 1 for channel files)."""
        group = self.grouping.groups[field]
        paths = [group.paths[i] for i in self._file_order]
        arrays = [self._files.read(p, ys, xs) for p in paths]
        for path, arr in zip(paths, arrays):
            if arr.shape[1:] != arrays[0].shape[1:]:
                raise DataError(f"{path}: shape {arr.shape} differs from {paths[0].name} {arrays[0].shape} in sample {group.id}")
        stack = np.concatenate(arrays)[None] if self.grouping.kind == "channel" else np.stack(arrays)
        return stack[:, self._pick]

    def _arrange(self, images: np.ndarray) -> np.ndarray:
        if self.set_axis == "channel":
            return images.transpose(1, 0, 2, 3)
        if self.set_axis == "image" and images.shape[0] != 1:
            return images.reshape(1, -1, *images.shape[2:])
        return images
