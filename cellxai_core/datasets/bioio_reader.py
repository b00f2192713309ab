"""``bioio``: any microscopy file a bioio reader plugin opens (OME-TIFF, TIFF, OME-Zarr, ND2, CZI, LIF ...).

bioio hands every format to us as scenes of (T, C, Z, Y, X[, S]) arrays, so one reader
covers the vendor formats that otherwise need a converter first. The axes map onto
samples and the set axis:

- ``set_axis: time``: the time points of a scene are the set (S = T), channels stay
  channels, a z stack is max-projected; each scene is a field;
- ``set_axis: channel``: the isolated channels are the set (S = C, C = 1); ``image``: one
  multi-channel image (S = 1); ``z``: the z planes are the set (S = Z, the sample's
  ``set_axis`` is ``image``). For these three each time point of each scene is a field;
- RGB samples (bioio's ``S`` axis) become three channels.

Fields are cut into samples as in the other file readers (:class:`.regions.RegionReader`):
whole, ``tile: {size, stride, min_foreground}`` or ``crop_cells: {object, size}``.
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

from cellxai_core.errors import ConfigError, DataError

from .intensity import MAX_PIXELS, Transform, default_channel_names, select_channels
from .regions import RegionReader

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


def _choose(given: Sequence[int] | None, size: int, what: str, where: str) -> list[int]:
    """Indices along an axis (all of them by default), checked against its size."""
    if given is None:
        return list(range(size))
    bad = [i for i in given if not 0 <= i < size]
    if bad or not given:
        raise ConfigError(f"{where}: {what} {list(given)} must be within 0..{size - 1}")
    return list(given)


def _with_stride(tile: Any, stride: Any) -> Any:
    """The old ``tile: 16, stride: 8`` as ``tile: {size: 16, stride: 8}``."""
    if stride is None or tile is None:
        return tile
    if isinstance(tile, dict):
        return {**tile, "stride": tile.get("stride") or stride}
    if hasattr(tile, "model_dump"):
        return {**tile.model_dump(), "stride": tile.stride or stride}
    return {"size": tile, "stride": stride}


class BioioDataset(RegionReader):
    """Scenes x time points of a bioio-readable file, whole, tiled or cropped around objects, read lazily."""

    truth_keys: tuple[str, ...] = ()
    classes = None

    def __init__(
        self,
        path: str,
        set_axis: str = "time",
        scenes: Sequence[int | str] | None = None,
        timepoints: Sequence[int] | None = None,
        planes: Sequence[int] | None = None,
        tile: Any = None,
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
        crop_cells: Any = None,
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
        self._dtype = self.dtype = np.dtype(image.dtype)
        first = self._scenes[0]
        self._times = _choose(timepoints, min(s.t for s in self._scenes), "timepoints", self.path)
        self._planes = _choose(planes, min(s.z for s in self._scenes), "planes", self.path)
        times: list[int | None] = [None] if self.mode == "time" else list(self._times)
        self._fields = [(scene, t) for scene in self._scenes for t in times]
        self.transform = Transform.from_params(normalize, percentiles, normalize_over, crop, resize, max_pixels, intensity_range)
        names = [str(n) for n in (image.channel_names or [])]
        source = names if len(names) == first.c and not first.rgb else list(default_channel_names(first.c, first.rgb))
        source = [str(i) for i in range(first.c)] if channel_map else source
        self._pick, chosen = select_channels(source, channels, channel_map, self.path)
        self._set_metadata(chosen)
        self._base_meta = ("scene", "scene_index", "timepoint")
        self._init_regions(_with_stride(tile, stride), crop_cells, objects, self._object_channel_names(), self.path)

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

    # -- fields of the region reader: scene (x time point) ------------------------------------
    def _field_count(self) -> int:
        return len(self._fields)

    def _field_shape(self, field: int) -> tuple[int, int]:
        scene = self._fields[field][0]
        return scene.y, scene.x

    def _field_where(self, field: int) -> str:
        return f"{self.path} scene {self._fields[field][0].name}"

    def _field_info(self, field: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """Id and meta of a field: the scene id made file-name safe, ``_t<t>`` when each time point is a sample."""
        scene, t = self._fields[field]
        name = re.sub(r"[^\w.-]+", "_", scene.name).strip("_") or f"scene{scene.index}"
        sid = name if len({s.name for s in self._scenes}) == len(self._scenes) else f"{scene.index}_{name}"
        if t is not None and len(self._times) > 1:
            sid += f"_t{t}"
        return sid, {"scene": scene.name, "scene_index": scene.index, "timepoint": self._times[0] if t is None else t}, {}

    def _object_channel_names(self) -> Sequence[str]:
        """Objects name the isolated channels (the set labels) when channels are the set."""
        return self.set_labels if self.mode == "channel" else self.channels

    def _arrange(self, images: np.ndarray) -> np.ndarray:
        return images.transpose(1, 0, 2, 3) if self.mode == "channel" else images

    # -- reading ----------------------------------------------------------------------------
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

    def _read_region(self, field: int, ys: slice, xs: slice) -> np.ndarray:
        """(S, C, h, w) of the chosen channels in the file's dtype: time points (z max-projected) or z planes."""
        scene, t = self._fields[field]
        times = self._times if t is None else [t]
        try:
            lazy = self._scene_data(scene.index)[times][:, :, self._planes, ys, xs]
            data = np.asarray(lazy.compute(scheduler="synchronous"))  # (T', C, Z', h, w)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"{self.path}: cannot read scene {scene.name} ({type(exc).__name__}: {exc})") from None
        data = data[:, self._pick]
        if self.mode == "z":
            return data[0].transpose(1, 0, 2, 3)  # (Z', C, h, w)
        return data.max(axis=2)  # (T', C, h, w), z max-projected
