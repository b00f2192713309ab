"""``bioio``: any microscopy file a bioio reader plugin opens (OME-TIFF, TIFF, OME-Zarr, ND2, CZI, LIF ...).

bioio hands every format to us as scenes of (T, C, Z, Y, X[, S]) arrays, so one reader
covers the vendor formats that otherwise need a converter first. The axes map onto
samples and the set axis:

- ``set_axis: time``: the time points of a scene are the set (S = T), channels stay
  channels, a z stack is max-projected; each scene x tile is a sample;
- ``set_axis: channel``: the isolated channels are the set (S = C, C = 1); ``image``: one
  multi-channel image (S = 1); ``z``: the z planes are the set (S = Z, the sample's
  ``set_axis`` is ``image``). For these three each time point of each scene x tile is a
  sample of its own;
- RGB samples (bioio's ``S`` axis) become three channels.

Reading is lazy: each sample computes only its own slice of bioio's dask-backed data, with
dask's synchronous scheduler (the pipeline chooses the parallelism, not the reader).
"""

from __future__ import annotations

import importlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cellxai_core.data import Sample
from cellxai_core.errors import ConfigError, DataError

from .base import check_index
from .intensity import MAX_PIXELS, Transform, default_channel_names, select_channels
from .regions import dataset_limits, declare_objects, even_sample

SET_AXES = ("time", "channel", "image", "z")


@dataclass(frozen=True)
class Scene:
    """One scene's header: its name, the sizes of T, C (x RGB samples), Z, Y, X, and its dtype."""

    index: int
    name: str
    t: int
    c: int
    z: int
    y: int
    x: int
    rgb: bool


@dataclass(frozen=True)
class Where:
    """Where sample i comes from: a scene, a time point (None: the set is time) and a tile origin."""

    scene: int
    t: int | None
    row: int
    col: int
    y0: int
    x0: int


def _size(value: int | Sequence[int] | None) -> tuple[int, int] | None:
    """An int or a [height, width] pair as (height, width)."""
    if value is None:
        return None
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _choose(given: Sequence[int] | None, size: int, what: str, where: str) -> list[int]:
    """Indices along an axis (all of them by default), checked against its size."""
    if given is None:
        return list(range(size))
    bad = [i for i in given if not 0 <= i < size]
    if bad or not given:
        raise ConfigError(f"{where}: {what} {list(given)} must be within 0..{size - 1}")
    return list(given)


class BioioDataset:
    """Scenes x time points x tiles of a bioio-readable file, read lazily."""

    meta_keys = ("scene", "scene_index", "timepoint", "tile_row", "tile_col", "y0", "x0")
    truth_keys: tuple[str, ...] = ()
    classes = None

    def __init__(
        self,
        path: str,
        set_axis: str = "time",
        scenes: Sequence[int | str] | None = None,
        timepoints: Sequence[int] | None = None,
        planes: Sequence[int] | None = None,
        tile: int | Sequence[int] | None = None,
        stride: int | Sequence[int] | None = None,
        reader: str | None = None,
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
    ) -> None:
        if set_axis not in SET_AXES:
            raise ConfigError(f"bioio: set_axis must be one of {', '.join(SET_AXES)}, got {set_axis!r}")
        self.path, self.reader_name, self.mode = str(path), reader, set_axis
        if "://" not in self.path and not Path(self.path).expanduser().exists():
            raise DataError(f"{self.path}: no such file")
        self._image: Any = None
        self._lock = threading.Lock()
        self._data: dict[int, Any] = {}
        image = self._open()
        self._scenes = self._headers(image, scenes)
        self.dtype = np.dtype(image.dtype)
        first = self._scenes[0]
        self._times = _choose(timepoints, min(s.t for s in self._scenes), "timepoints", self.path)
        self._planes = _choose(planes, min(s.z for s in self._scenes), "planes", self.path)
        self.transform = Transform.from_params(normalize, percentiles, normalize_over, crop, resize, max_pixels, intensity_range)
        self._index = self._layout(_size(tile), _size(stride))
        names = [str(n) for n in (image.channel_names or [])]
        source = names if len(names) == first.c and not first.rgb else list(default_channel_names(first.c, first.rgb))
        source = [str(i) for i in range(first.c)] if channel_map else source
        self._pick, chosen = select_channels(source, channels, channel_map, self.path)
        self._set_metadata(chosen)
        self.objects = declare_objects(objects, self.set_labels if self.mode == "channel" else self.channels, self.path)
        self.normalization: dict[str, Any] = {"mode": normalize}
        if normalize == "dataset":
            self.transform, record = dataset_limits(self.transform, even_sample(self.raw, len(self)))
            self.normalization.update(record, channels=list(self.channels))

    # -- opening --------------------------------------------------------------------------
    def _open(self) -> Any:
        if self._image is None:
            try:
                from bioio import BioImage
            except ImportError:  # pragma: no cover - bioio is a dependency of the dev install
                raise DataError("the bioio dataset needs bioio: pip install bioio bioio-ome-tiff bioio-tifffile") from None
            kwargs: dict[str, Any] = {}
            if self.reader_name:
                try:
                    kwargs["reader"] = importlib.import_module(self.reader_name.replace("-", "_")).Reader
                except (ImportError, AttributeError) as exc:
                    raise ConfigError(f"bioio reader '{self.reader_name}' is not installed ({exc}); e.g. pip install bioio-nd2") from None
            try:
                self._image = BioImage(self.path, **kwargs)
            except Exception as exc:
                raise DataError(f"{self.path}: no installed bioio reader opens it ({type(exc).__name__}: {str(exc)[:300]}); "
                                "vendor formats need their plugin, e.g. pip install bioio-nd2 / bioio-czi / bioio-lif") from None
        return self._image

    def __getstate__(self) -> dict[str, Any]:  # the reader and lock stay in the process that opened them
        return {**self.__dict__, "_image": None, "_data": {}, "_lock": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _headers(self, image: Any, scenes: Sequence[int | str] | None) -> list[Scene]:
        """The chosen scenes' sizes, read from metadata only; they must share channels."""
        names = [str(s) for s in image.scenes]
        given = list(range(len(names))) if scenes is None else [names.index(str(s)) if str(s) in names else s for s in scenes]
        chosen = [s for s in given if isinstance(s, int) and 0 <= s < len(names)]
        if len(chosen) != len(given) or not chosen:
            raise ConfigError(f"{self.path}: scenes {list(scenes or [])} not found; the file has {len(names)}: {names[:10]}")
        out = []
        for i in chosen:
            image.set_scene(i)
            dims = image.dims
            rgb = "S" in dims.order and dims.S > 1
            c = dims.C * (dims.S if rgb else 1)
            out.append(Scene(i, names[i], dims.T, c, dims.Z, dims.Y, dims.X, rgb))
        if len({(s.c, s.rgb) for s in out}) > 1:
            raise DataError(f"{self.path}: scenes differ in their channels: {[(s.name, s.c) for s in out][:10]}")
        return out

    def _layout(self, tile: tuple[int, int] | None, stride: tuple[int, int] | None) -> list[Where]:
        """Every sample's source; the output image size must be one for all of them."""
        index, sizes = [], set()
        times: list[int | None] = [None] if self.mode == "time" else list(self._times)
        for scene in self._scenes:
            th, tw = tile or (scene.y, scene.x)
            sy, sx = stride or (th, tw)
            if th > scene.y or tw > scene.x or min(th, tw, sy, sx) < 1:
                raise ConfigError(f"{self.path}: tile {(th, tw)} / stride {(sy, sx)} do not fit scene {scene.name} of {scene.y}x{scene.x}")
            sizes.add(self.transform.output_size(th, tw, self.path))
            rows, cols = range(0, scene.y - th + 1, sy), range(0, scene.x - tw + 1, sx)
            index += [Where(scene.index, t, r, c, y0, x0) for t in times for r, y0 in enumerate(rows) for c, x0 in enumerate(cols)]
        if len(sizes) > 1:
            raise DataError(f"{self.path}: scenes give images of different sizes {sorted(sizes)}; set tile or resize")
        self._tile = tile
        self.image_size = sizes.pop()
        return index

    def _set_metadata(self, chosen: tuple[str, ...]) -> None:
        """channels, set_axis, set_size and set_labels from the mode and the chosen channels / time points / planes."""
        if self.mode == "channel":
            self.channels: tuple[str, ...] = ("intensity",)
            self.set_labels: tuple[str, ...] = chosen
        else:
            self.channels = chosen
            self.set_labels = {"time": tuple(f"t {t}" for t in self._times), "z": tuple(f"z {z}" for z in self._planes)}.get(self.mode, ("image",))
        self.set_axis = "image" if self.mode == "z" else self.mode
        self.set_size = len(self.set_labels)

    # -- reading ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._index)

    def _scene_data(self, scene: int) -> Any:
        """The scene's lazy (T, C, Z, Y, X) dask array (RGB samples folded into C), made once per scene."""
        with self._lock:
            if scene not in self._data:
                image = self._open()
                image.set_scene(scene)
                rgb = "S" in image.dims.order and image.dims.S > 1
                data = image.get_image_dask_data("TCZYXS" if rgb else "TCZYX")
                if rgb:
                    t, c, z, y, x, s = data.shape
                    data = data.transpose(0, 1, 5, 2, 3, 4).reshape(t, c * s, z, y, x)
                self._data[scene] = data
            return self._data[scene]

    def raw(self, index: int) -> np.ndarray:
        """Sample ``index`` as stored, (S, C, h, w) with the chosen channels, in the file's dtype."""
        where = self._index[check_index(index, len(self))]
        scene = next(s for s in self._scenes if s.index == where.scene)
        th, tw = self._tile or (scene.y, scene.x)
        times = self._times if where.t is None else [where.t]
        try:
            lazy = self._scene_data(where.scene)[times][:, :, self._planes, where.y0 : where.y0 + th, where.x0 : where.x0 + tw]
            data = np.asarray(lazy.compute(scheduler="synchronous"))  # (T', C, Z', h, w)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"{self.path}: cannot read scene {scene.name} ({type(exc).__name__}: {exc})") from None
        data = data[:, self._pick]
        if self.mode == "z":
            return data[0].transpose(1, 0, 2, 3)  # (Z', C, h, w)
        return data.max(axis=2)  # (T', C, h, w), z max-projected

    def describe(self, index: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """Id and metadata of sample ``index`` without reading its pixels."""
        where = self._index[check_index(index, len(self))]
        scene = next(s for s in self._scenes if s.index == where.scene)
        name = re.sub(r"[^\w.-]+", "_", scene.name).strip("_") or f"scene{scene.index}"
        parts = [name if len({s.name for s in self._scenes}) == len(self._scenes) else f"{scene.index}_{name}"]
        if where.t is not None and len(self._times) > 1:
            parts.append(f"t{where.t}")
        if len(self._index) > len(self._scenes) * (1 if where.t is None else len(self._times)):
            parts.append(f"y{where.y0}_x{where.x0}")
        meta = {"scene": scene.name, "scene_index": scene.index, "timepoint": self._times[0] if where.t is None else where.t,
                "tile_row": where.row, "tile_col": where.col, "y0": where.y0, "x0": where.x0}
        return "_".join(parts), meta, {}

    def __getitem__(self, index: int) -> Sample:
        sample_id, meta, _ = self.describe(index)
        images = self.transform.apply(self.raw(index), self.dtype)
        if self.mode == "channel":
            images = images.transpose(1, 0, 2, 3)
        return Sample(id=sample_id, images=np.ascontiguousarray(images), channels=self.channels,
                      set_axis=self.set_axis, meta=meta, truth={})  # type: ignore[arg-type]
