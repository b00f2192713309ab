"""``tiff-stack``: one multi-page TIFF time-lapse cut into many samples.

The recording's frames are split into ``windows`` consecutive time windows; in each,
``frames`` frames evenly spread (or ``frame_indices``) form the set of a sample, and
every tile of (``tile``, ``stride``) is one sample: one long recording becomes many
"wells". Reading is lazy through tifffile's Zarr view of the file: a sample reads only
its frames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cellxai_core.data import Sample
from cellxai_core.errors import ConfigError, DataError

from .base import check_index, sample_id
from .imageio import ome_channel_names
from .intensity import MAX_PIXELS, Transform, default_channel_names, select_channels

FRAME_AXES = "TZIQ"  # first one present with length > 1 is time
CHANNEL_AXES = "CS"


def _pair(value: int | Sequence[int] | None, default: tuple[int, int]) -> tuple[int, int]:
    if value is None:
        return default
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[1]))


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


class TiffStack:
    """Tiles x time windows of one TIFF time-lapse; set axis: time."""

    set_axis = "time"
    truth_keys: tuple[str, ...] = ()
    classes = None
    meta_keys = ("window", "tile_row", "tile_col", "y0", "x0", "first_frame")

    def __init__(
        self,
        path: str,
        tile: int | Sequence[int] | None = None,
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
    ) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise DataError(f"{self.path}: file does not exist")
        shape, axes, dtype, names = self._header()
        self.dtype = dtype
        self._axes, self._shape = axes, shape
        frame_axes = [a for a in FRAME_AXES if a in axes and shape[axes.index(a)] > 1]
        if not frame_axes:
            raise DataError(f"{self.path}: has axes {axes} {shape} and no time axis with more than one frame")
        self._time = frame_axes[0]
        extra = [a for a in axes if a not in self._time + CHANNEL_AXES + "YX" and shape[axes.index(a)] > 1]
        if extra:
            raise DataError(f"{self.path}: has axes {axes} {shape}; only one of {'/'.join(frame_axes)} can be time")
        n_frames = shape[axes.index(self._time)]
        height, width = shape[axes.index("Y")], shape[axes.index("X")]
        self.tile = _pair(tile, (height, width))
        self.stride = _pair(stride, self.tile)
        if self.tile[0] > height or self.tile[1] > width or min(self.tile) < 1 or min(self.stride) < 1:
            raise ConfigError(f"{self.path}: tile {self.tile} / stride {self.stride} do not fit frames of {height}x{width}")
        self._rows = list(range(0, height - self.tile[0] + 1, self.stride[0]))
        self._cols = list(range(0, width - self.tile[1] + 1, self.stride[1]))
        self._windows = frame_choice(n_frames, frames, windows, frame_indices, self.path)
        n_channels = int(np.prod([shape[axes.index(a)] for a in CHANNEL_AXES if a in axes]))
        source = list(names) if names and len(names) == n_channels else list(default_channel_names(n_channels, "S" in axes))
        source = [str(i) for i in range(n_channels)] if channel_map else source
        self._pick, self.channels = select_channels(source, channels, channel_map, str(self.path))
        self.transform = Transform.from_params(normalize, percentiles, normalize_over, crop, resize, max_pixels)
        self.set_size = len(self._windows[0])
        self.image_size = self.transform.output_size(*self.tile, f"{self.path} (tile)")
        self.set_labels = tuple(f"frame {f}" for f in self._windows[0])
        self._array: Any = None

    def _header(self) -> tuple[tuple[int, ...], str, np.dtype, tuple[str, ...] | None]:
        import tifffile

        try:
            with tifffile.TiffFile(self.path) as tif:
                series = tif.series[0]
                names = ome_channel_names(tif.ome_metadata) if tif.is_ome else None
                return tuple(series.shape), series.axes, np.dtype(series.dtype), names
        except Exception as exc:
            raise DataError(f"{self.path}: unreadable TIFF ({type(exc).__name__}: {exc})") from None

    def __getstate__(self) -> dict[str, Any]:  # the open file handle does not travel to worker processes
        return {**self.__dict__, "_array": None}

    def _zarr(self) -> Any:
        if self._array is None:
            import tifffile
            import zarr

            try:
                self._array = zarr.open_array(tifffile.imread(self.path, aszarr=True), mode="r")
            except Exception as exc:
                raise DataError(f"{self.path}: unreadable TIFF ({type(exc).__name__}: {exc})") from None
        return self._array

    def __len__(self) -> int:
        return len(self._windows) * len(self._rows) * len(self._cols)

    def _where(self, index: int) -> tuple[int, int, int]:
        per_window = len(self._rows) * len(self._cols)
        window, rest = divmod(index, per_window)
        row, col = divmod(rest, len(self._cols))
        return window, row, col

    def raw(self, index: int) -> np.ndarray:
        """The frames of sample ``index`` as stored, (S, C, h, w) in the file's dtype."""
        window, row, col = self._where(check_index(index, len(self)))
        y0, x0 = self._rows[row], self._cols[col]
        selection: list[Any] = []
        for axis in self._axes:
            if axis == self._time:
                selection.append(np.asarray(self._windows[window]))
            elif axis == "Y":
                selection.append(slice(y0, y0 + self.tile[0]))
            elif axis == "X":
                selection.append(slice(x0, x0 + self.tile[1]))
            elif axis in CHANNEL_AXES:
                selection.append(slice(None))
            else:
                selection.append(slice(0, 1))
        try:
            data = np.asarray(self._zarr().get_orthogonal_selection(tuple(selection)))
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"{self.path}: cannot read frames {self._windows[window]} ({type(exc).__name__}: {exc})") from None
        keep = [a for a in self._axes]
        order = [keep.index(self._time)] + [keep.index(a) for a in keep if a in CHANNEL_AXES]
        order += [i for i, a in enumerate(keep) if a not in CHANNEL_AXES + "YX" and a != self._time]
        order += [keep.index("Y"), keep.index("X")]
        data = np.transpose(data, order).reshape(self.set_size, -1, self.tile[0], self.tile[1])
        return data[:, self._pick]

    def __getitem__(self, index: int) -> Sample:
        index = check_index(index, len(self))
        window, row, col = self._where(index)
        images = self.transform.apply(self.raw(index), self.dtype)
        meta = {
            "window": window,
            "tile_row": row,
            "tile_col": col,
            "y0": self._rows[row],
            "x0": self._cols[col],
            "first_frame": int(self._windows[window][0]),
        }
        return Sample(
            id=sample_id("tile", index, len(self)),
            images=images,
            channels=self.channels,
            set_axis="time",
            meta=meta,
            truth={},
        )
