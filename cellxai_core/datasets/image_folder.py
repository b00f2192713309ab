"""``image-folder``: PNG / TIFF / OME-TIFF files grouped into samples.

Opening checks every file's header (exists, readable, one image per file, the same
shape within a sample, and across samples unless ``resize`` is set); pixels are read
only when a sample is accessed. Grouping comes from a CSV manifest, a file-name pattern,
or one file per sample (see :mod:`.grouping`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from cellxai_core.data import Sample
from cellxai_core.errors import ConfigError, DataError

from .base import check_index
from .grouping import Grouping, from_folder, from_manifest, from_pattern
from .imageio import ImageInfo, probe, read_image
from .intensity import MAX_PIXELS, Transform, default_channel_names, select_channels

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


class ImageFolder:
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
    ) -> None:
        self.grouping = open_grouping(path, pattern)
        self.transform = Transform.from_params(normalize, percentiles, normalize_over, crop, resize, max_pixels)
        kind = self.grouping.kind
        self.set_axis = self._set_axis(kind, set_axis)
        infos = self._check_files()
        first = infos[0][0]
        where = str(self.grouping.source)
        if kind == "channel":
            source_names = [str(k) for k in self.grouping.groups[0].keys]
        else:
            source_names = list(first.channel_names or default_channel_names(first.shape[0], first.path.suffix.lower() == ".png"))
            source_names = [str(i) for i in range(first.shape[0])] if channel_map else source_names
        self._pick, names = select_channels(source_names, channels, channel_map, where)
        self.image_size = self.transform.output_size(*first.shape[1:], first.path)
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
        self.meta_keys = self.grouping.meta_keys
        found = sorted({g.klass for g in self.grouping.groups if g.klass is not None})
        unlabelled = [g.id for g in self.grouping.groups if g.klass is None]
        if found and unlabelled:
            raise DataError(f"{where}: samples {unlabelled[:3]} have no class while others do")
        self.classes: tuple[str, ...] | None = tuple(found) if found else None
        self.truth_keys: tuple[str, ...] = ("class",) if self.classes else ()

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
            self.transform.check_pixels(*head.shape[1:], head.path)
            for info in group_infos:
                if info.shape[1:] != head.shape[1:] or (self.grouping.kind != "channel" and info.shape != head.shape):
                    raise DataError(
                        f"{info.path}: shape {info.shape} (C, H, W) differs from {head.path.name} {head.shape} in sample {group.id}"
                    )
                if self.grouping.kind == "channel" and info.shape[0] != 1:
                    raise DataError(f"{info.path}: has {info.shape[0]} channels; a per-channel file must hold one")
            if self.transform.resize is None and head.shape[1:] != reference.shape[1:]:
                raise DataError(
                    f"{head.path}: size {head.shape[1:]} differs from {reference.path.name} {reference.shape[1:]}; "
                    "set resize to bring every sample to one size"
                )
            if head.shape[0] != reference.shape[0]:
                raise DataError(f"{head.path}: has {head.shape[0]} channels but {reference.path.name} has {reference.shape[0]}")
        return infos

    def __len__(self) -> int:
        return len(self.grouping.groups)

    def raw(self, index: int) -> np.ndarray:
        """The selected channels of sample ``index`` as read, (T, C, H, W) in the files' dtype (T = 1 for channel files)."""
        group = self.grouping.groups[check_index(index, len(self))]
        arrays = [read_image(p) for p in group.paths]
        for path, arr in zip(group.paths, arrays):
            if arr.shape[1:] != arrays[0].shape[1:]:
                raise DataError(f"{path}: shape {arr.shape} differs from {group.paths[0].name} {arrays[0].shape} in sample {group.id}")
        if self.grouping.kind == "channel":
            stack = np.concatenate(arrays)[None]  # (1, C, H, W)
        else:
            stack = np.stack(arrays)
        return stack[:, self._pick]

    def __getitem__(self, index: int) -> Sample:
        index = check_index(index, len(self))
        group = self.grouping.groups[index]
        raw = self.raw(index)
        images = self.transform.apply(raw, raw.dtype)
        if self.set_axis == "channel":
            images = images.transpose(1, 0, 2, 3)
        elif self.set_axis == "image" and images.shape[0] != 1:
            images = images.reshape(1, -1, *images.shape[2:])
        truth = {"class": group.klass} if self.classes else {}
        return Sample(
            id=group.id,
            images=np.ascontiguousarray(images),
            channels=self.channels,
            set_axis=self.set_axis,  # type: ignore[arg-type]
            meta=dict(group.meta),
            truth=truth,
        )
