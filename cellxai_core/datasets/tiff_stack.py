"""``tiff-stack``: one TIFF (time-lapse, z-stack or a single 2-D image) cut into many samples.

``axis: time`` (default): the recording's frames are split into ``windows`` consecutive
time windows; in each, ``frames`` frames evenly spread (or ``frame_indices``) form the set
of a sample (set axis ``time``); a z axis next to time is max-projected.
``axis: z``: the planes of a z-stack are the stack axis, and ``z_as`` says what they become:
``set`` (``frames`` planes evenly spread, or ``frame_indices``, are the set of one sample,
set axis ``image``), ``samples`` (each plane is a sample of its own) or ``max`` (one
max-projected image). A single 2-D image (with or without channels) is one sample of one
image. Every sample can further be cut by ``tile`` or ``crop_cells`` (see :mod:`.regions`).
Reading is lazy (memory map or tifffile's Zarr view): a sample reads only its frames and region.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cellxai_core.errors import ConfigError, DataError

from .imageio import ome_channel_names, open_tiff_array, read_orthogonal
from .intensity import MAX_PIXELS, Transform, default_channel_names, select_channels
from .regions import RegionReader

STACK_AXES = {"time": "TZIQ", "z": "ZIQ"}  # the first present with length > 1 is the stack axis
CHANNEL_AXES = "CS"


def frame_choice(n_frames: int, frames: int, windows: int, frame_indices: Sequence[int] | None, path: Path) -> list[list[int]]:
    """Frame indices per time window."""
    if frame_indices is not None:
        bad = [f for f in frame_indices if not 0 <= f < n_frames]
        if bad or not frame_indices:
            raise ConfigError(f"{path}: frame_indices {list(frame_indices)} must be within 0..{n_frames - 1}")
        return [list(frame_indices)]
    out = []
    for w in range(windows):
        start, stop = w * n_frames // windows, (w + 1) * n_frames // windows
        if stop - start < frames:
            raise ConfigError(f"{path}: {n_frames} frames in {windows} windows leave {stop - start} per window, fewer than frames={frames}")
        out.append(np.rint(np.linspace(start, stop - 1, frames)).astype(int).tolist())
    return out


class TiffStack(RegionReader):
    """Time windows, z planes or one image of a TIFF, each cut into tiles or crops when asked."""

    truth_keys: tuple[str, ...] = ()
    classes = None

    def __init__(
        self,
        path: str,
        axis: str = "time",
        z_as: str = "set",
        tile: Any = None,
        stride: int | Sequence[int] | None = None,
        frames: int = 5,
        frame_indices: Sequence[int] | None = None,
        windows: int = 1,
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
        crop_cells: Any = None,
    ) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise DataError(f"{self.path}: file does not exist")
        if axis not in STACK_AXES or z_as not in ("set", "samples", "max"):
            raise ConfigError(f"{self.path}: axis must be time or z and z_as set, samples or max, got {axis!r} / {z_as!r}")
        shape, axes, self._dtype, names = self._header()
        self._axes, self._shape, self.mode = axes, shape, axis if axis == "time" else f"z-{z_as}"
        size = dict(zip(axes, shape))
        stack = [a for a in STACK_AXES[axis] if size.get(a, 1) > 1]
        self._stack = stack[0] if stack else None
        self._project = [a for a in axes if a not in CHANNEL_AXES + "YX" and a != self._stack and size[a] > 1]
        if self._project and not (axis == "time" and self._project == ["Z"]):
            raise DataError(f"{self.path}: has axes {axes} {shape}; tiff-stack reads one of {'/'.join(stack)} as the stack "
                            "(time: a z axis beside it is max-projected); use the bioio reader for the others")
        self._fields = self._choose_fields(size, frames, frame_indices, windows)
        n_channels = int(np.prod([size[a] for a in CHANNEL_AXES if a in size]))
        source = list(names) if names and len(names) == n_channels else list(default_channel_names(n_channels, "S" in axes))
        source = [str(i) for i in range(n_channels)] if channel_map else source
        self._pick, self.channels = select_channels(source, channels, channel_map, str(self.path))
        self.transform = Transform.from_params(normalize, percentiles, normalize_over, crop, resize, max_pixels, intensity_range)
        if stride is not None and tile is not None:
            tile = {"size": tile, "stride": stride} if not isinstance(tile, dict) else {**tile, "stride": tile.get("stride") or stride}
        self.set_axis = "time" if self.mode == "time" and self._stack else "image"
        first = self._fields[0]
        self.set_size = 1 if self.mode in ("z-samples", "z-max") else len(first)
        prefix = "frame" if self.mode == "time" else "z"
        self.set_labels = (f"{prefix} {first[0]}",) if self.set_size == 1 and self._stack else tuple(f"{prefix} {f}" for f in first)
        if not self._stack:
            self.set_labels = ("image",)
        self._base_meta = {"time": ("window", "first_frame"), "z-set": ("first_plane",), "z-samples": ("plane",)}.get(self.mode, ())
        self._array: Any = None
        self._init_regions(tile, crop_cells, objects, self.channels, str(self.path))

    def _header(self) -> tuple[tuple[int, ...], str, np.dtype, tuple[str, ...] | None]:
        import tifffile

        try:
            with tifffile.TiffFile(self.path) as tif:
                series = tif.series[0]
                names = ome_channel_names(tif.ome_metadata) if tif.is_ome else None
                return tuple(series.shape), series.axes, np.dtype(series.dtype), names
        except Exception as exc:
            raise DataError(f"{self.path}: unreadable TIFF ({type(exc).__name__}: {exc})") from None

    def _choose_fields(self, size: dict[str, int], frames: int, frame_indices: Sequence[int] | None, windows: int) -> list[list[int]]:
        """The stack indices of each field: time windows, z sets, single planes, or all planes to project."""
        if self._stack is None:
            return [[0]]
        n = size[self._stack]
        if self.mode in ("time", "z-set"):
            return frame_choice(n, frames, windows, frame_indices, self.path)
        planes = frame_choice(n, 1, 1, frame_indices, self.path)[0] if frame_indices is not None else list(range(n))
        return [[p] for p in planes] if self.mode == "z-samples" else [planes]

    def __getstate__(self) -> dict[str, Any]:  # the open file does not travel to worker processes
        return {**self.__dict__, "_array": None}

    def _lazy(self) -> Any:
        if self._array is None:
            self._array, _, _ = open_tiff_array(self.path)
        return self._array

    # -- fields of the region reader --------------------------------------------------------------
    def _field_count(self) -> int:
        return len(self._fields)

    def _field_shape(self, field: int) -> tuple[int, int]:
        return self._shape[self._axes.index("Y")], self._shape[self._axes.index("X")]

    def _field_where(self, field: int) -> str:
        return str(self.path)

    def _field_info(self, field: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
        first = int(self._fields[field][0])
        meta = {"time": {"window": field, "first_frame": first}, "z-set": {"first_plane": first},
                "z-samples": {"plane": first}}.get(self.mode, {})
        suffix = {"time": f"_w{field}", "z-set": f"_z{first}", "z-samples": f"_z{first}"}.get(self.mode, "")
        return self.path.name.split(".")[0] + (suffix if len(self._fields) > 1 else ""), meta, {}

    def _read_region(self, field: int, ys: slice, xs: slice) -> np.ndarray:
        """(S, C, h, w) of the field's frames in the file's dtype (z-max: the projection, S = 1)."""
        frames = self._fields[field]
        selection: list[Any] = []
        for axis in self._axes:
            if axis == self._stack:
                selection.append(np.asarray(frames))
            elif axis == "Y":
                selection.append(ys)
            elif axis == "X":
                selection.append(xs)
            elif axis in CHANNEL_AXES or axis in self._project:
                selection.append(slice(None))
            else:
                selection.append(slice(0, 1))
        try:
            data = read_orthogonal(self._lazy(), tuple(selection))
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"{self.path}: cannot read frames {frames} ({type(exc).__name__}: {exc})") from None
        for axis in self._project:  # z beside time: max projection
            data = data.max(axis=self._axes.index(axis), keepdims=True)
        order = ([self._axes.index(self._stack)] if self._stack else []) + [i for i, a in enumerate(self._axes) if a in CHANNEL_AXES]
        order += [i for i, a in enumerate(self._axes) if a not in CHANNEL_AXES + "YX" and a != self._stack]
        order += [self._axes.index("Y"), self._axes.index("X")]
        data = np.transpose(data, order)
        data = data.reshape(len(frames) if self._stack else 1, -1, *data.shape[-2:])
        if self.mode == "z-max":
            data = data.max(axis=0, keepdims=True)
        return data[:, self._pick]
