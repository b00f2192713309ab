"""``zarr``: samples from a Zarr store (zarr-python 3; Zarr v2 and v3 formats).

Three layouts are understood:

- an array (N, S, C, H, W) — or (N, C, H, W), S = 1 — at the root or at ``array``
  (default ``images``). Next to it, optional ``ids`` (N,) strings, ``meta/<key>`` (N,)
  columns and ``class`` (N,) strings become sample ids, meta and truth;
- an OME-Zarr HCS plate (OME-NGFF 0.4 attributes ``plate`` / ``well``, or 0.5 under
  ``ome``): one sample per field of view, meta ``plate``, ``row``, ``column``, ``well``,
  ``field``; the full-resolution level of each field is read;
- an OME-Zarr image (``multiscales``): one sample.

OME images are read by their axis names: ``t`` is the time set, ``c`` the channels, a
``z`` stack is max-projected. Channel names come from ``omero`` metadata when present.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cellxai_core.errors import ConfigError, DataError

from .intensity import MAX_PIXELS, Transform, select_channels
from .regions import RegionReader

DEFAULT_ARRAY = "images"


def _ome(attrs: dict[str, Any], key: str) -> Any:
    """An OME-NGFF attribute: under ``ome`` (0.5) or at the top level (0.4)."""
    if isinstance(attrs.get("ome"), dict) and key in attrs["ome"]:
        return attrs["ome"][key]
    return attrs.get(key)


@dataclass(frozen=True)
class Field:
    """One OME image: its level-0 array path, axis names, and the meta of its sample."""

    id: str
    array: str
    axes: tuple[str, ...]
    meta: dict[str, Any]


def _image_field(group: Any, path: str, sample: str, meta: dict[str, Any], where: Path) -> tuple[Field, list[str] | None]:
    attrs = dict(group.attrs)
    multiscales = _ome(attrs, "multiscales")
    if not multiscales:
        raise DataError(f"{where}: {path or 'root'} has no OME multiscales metadata")
    first = multiscales[0]
    axes = tuple((a["name"] if isinstance(a, dict) else str(a)).lower() for a in first.get("axes", []))
    datasets = first.get("datasets") or []
    if not datasets:
        raise DataError(f"{where}: {path or 'root'} multiscales lists no datasets")
    level0 = datasets[0]["path"]
    full = f"{path}/{level0}" if path else level0
    omero = _ome(attrs, "omero") or {}
    names = [c.get("label") for c in omero.get("channels", [])] or None
    return Field(sample, full, axes, meta), names if names and all(names) else None


def _plate_fields(root: Any, plate: dict[str, Any], where: Path) -> tuple[list[Field], list[str] | None]:
    rows = [r["name"] for r in plate.get("rows", [])]
    cols = [c["name"] for c in plate.get("columns", [])]
    wells = sorted(plate.get("wells", []), key=lambda w: (w.get("rowIndex", 0), w.get("columnIndex", 0), w["path"]))
    if not wells:
        raise DataError(f"{where}: plate metadata lists no wells")
    fields, names = [], None
    for well in wells:
        well_path = well["path"]
        row = rows[well["rowIndex"]] if "rowIndex" in well and rows else well_path.split("/")[0]
        col = cols[well["columnIndex"]] if "columnIndex" in well and cols else well_path.split("/")[1]
        try:
            well_group = root[well_path]
        except KeyError:
            raise DataError(f"{where}: plate lists well {well_path}, which is not in the store") from None
        images = (_ome(dict(well_group.attrs), "well") or {}).get("images", [])
        if not images:
            raise DataError(f"{where}: well {well_path} lists no fields")
        for index, image in enumerate(images):
            path = f"{well_path}/{image['path']}"
            try:
                group = root[path]
            except KeyError:
                raise DataError(f"{where}: well {well_path} lists field {image['path']}, which is not in the store") from None
            meta = {"plate": str(plate.get("name", "")), "row": str(row), "column": str(col), "well": f"{row}{col}", "field": index}
            field, found = _image_field(group, path, f"{row}{col}_f{index}", meta, where)
            fields.append(field)
            names = names or found
    return fields, names


class ZarrDataset(RegionReader):
    """Samples from a Zarr array or an OME-Zarr plate / image, read lazily (region by region with ``tile``)."""

    def __init__(
        self,
        path: str,
        array: str | None = None,
        set_axis: str | None = None,
        channels: Sequence[str] | None = None,
        channel_map: dict[str, str] | None = None,
        normalize: str = "dtype",
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
        import zarr

        self.path = Path(path).expanduser()
        if not self.path.exists():
            raise DataError(f"{self.path}: no such Zarr store")
        self.transform = Transform.from_params(normalize, percentiles, normalize_over, crop, resize, max_pixels, intensity_range)
        try:
            node = zarr.open(str(self.path), mode="r")
        except Exception as exc:
            raise DataError(f"{self.path}: not a readable Zarr store ({type(exc).__name__}: {exc})") from None
        self._fields: list[Field] | None = None
        self._ids: list[str] = []
        self._meta: dict[str, np.ndarray] = {}
        self._classes_of: list[str] | None = None
        if isinstance(node, zarr.Array):
            self._open_array(node, "")
            names = None
        else:
            attrs = dict(node.attrs)
            plate = _ome(attrs, "plate")
            if plate:
                fields, names = _plate_fields(node, plate, self.path)
            elif _ome(attrs, "multiscales"):
                field, names = _image_field(node, "", self.path.stem, {}, self.path)
                fields = [field]
            else:
                self._open_array_in_group(node, array or DEFAULT_ARRAY)
                fields, names = None, None
            if fields is not None:
                self._open_fields(node, fields)
        self._finish(set_axis, channels, channel_map, names)
        self._init_regions(tile, crop_cells, objects, self.set_labels if self.set_axis == "channel" else self.channels, str(self.path))

    # -- layouts ---------------------------------------------------------------------
    def _open_array(self, arr: Any, name: str) -> None:
        if arr.ndim not in (4, 5):
            raise DataError(f"{self.path}{'/' + name if name else ''}: array of shape {arr.shape}; expected (N, S, C, H, W) or (N, C, H, W)")
        self._array_path = name
        self._shape5 = tuple(arr.shape) if arr.ndim == 5 else (arr.shape[0], 1, *arr.shape[1:])
        self._dtype = np.dtype(arr.dtype)
        self._ids = [f"sample-{i:04d}" for i in range(self._shape5[0])]

    def _open_array_in_group(self, group: Any, name: str) -> None:
        import zarr

        try:
            arr = group[name]
        except KeyError:
            raise DataError(f"{self.path}: no array '{name}' in the store (found: {', '.join(sorted(group.keys())) or 'nothing'})") from None
        if not isinstance(arr, zarr.Array):
            raise DataError(f"{self.path}/{name}: is a group, not an array")
        self._open_array(arr, name)
        n = self._shape5[0]
        parent = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        columns = {"ids": f"{parent}ids", "class": f"{parent}class"}
        for key, where in columns.items():
            if where in group:
                values = [str(v) for v in np.asarray(group[where][:]).tolist()]
                if len(values) != n:
                    raise DataError(f"{self.path}/{where}: has {len(values)} entries for {n} samples")
                if key == "ids":
                    self._ids = values
                else:
                    self._classes_of = values
        if f"{parent}meta" in group:
            for key, arr in group[f"{parent}meta"].arrays():
                column = np.asarray(arr[:])
                if column.shape != (n,):
                    raise DataError(f"{self.path}/{parent}meta/{key}: shape {column.shape}, expected ({n},)")
                self._meta[key] = column

    def _open_fields(self, root: Any, fields: list[Field]) -> None:
        shapes = {}
        for field in fields:
            try:
                arr = root[field.array]
            except KeyError:
                raise DataError(f"{self.path}: field {field.id} has no array {field.array}") from None
            if len(field.axes) != arr.ndim or not {"y", "x"} <= set(field.axes):
                raise DataError(f"{self.path}/{field.array}: axes {field.axes} do not fit an array of shape {arr.shape}")
            shapes[field.array] = (tuple(arr.shape), np.dtype(arr.dtype))
        first = fields[0]
        for field in fields[1:]:
            if shapes[field.array] != shapes[first.array]:
                raise DataError(
                    f"{self.path}/{field.array}: shape {shapes[field.array][0]} differs from {first.array} {shapes[first.array][0]}"
                )
        shape, self._dtype = shapes[first.array]
        size = dict(zip(first.axes, shape))
        self._shape5 = (len(fields), size.get("t", 1), size.get("c", 1), size["y"], size["x"])
        self._fields = fields
        self._ids = [f.id for f in fields]
        for key in fields[0].meta:
            self._meta[key] = np.asarray([f.meta[key] for f in fields])

    def _finish(self, set_axis: str | None, channels: Sequence[str] | None, channel_map: dict[str, str] | None, names: list[str] | None) -> None:
        n, s, c, h, w = self._shape5
        if set_axis is None:
            set_axis = "time" if self._fields is None or s > 1 else "image"
        if set_axis in ("image", "channel") and s != 1:
            raise ConfigError(f"{self.path}: set_axis '{set_axis}' needs one image per sample, but samples hold {s} time points")
        source = [str(i) for i in range(c)] if channel_map or not names or len(names) != c else list(names)
        if not channel_map and not names:
            source = ["gray"] if c == 1 else [f"c{i}" for i in range(c)]
        self._pick, chosen = select_channels(source, channels, channel_map, str(self.path))
        self.set_axis = set_axis
        if set_axis == "channel":
            self.channels: tuple[str, ...] = ("intensity",)
            self.set_labels: tuple[str, ...] = chosen
            self.set_size = len(chosen)
        else:
            self.channels, self.set_size = chosen, s
            self.set_labels = tuple(f"t {i}" for i in range(s)) if set_axis == "time" else ("image",)
        self._base_meta = tuple(self._meta)
        self.classes = tuple(sorted(set(self._classes_of))) if self._classes_of else None
        self.truth_keys: tuple[str, ...] = ("class",) if self.classes else ()

    # -- fields of the region reader: one per array entry / OME field ---------------------------------
    def _field_count(self) -> int:
        return self._shape5[0]

    def _field_shape(self, field: int) -> tuple[int, int]:
        return self._shape5[3], self._shape5[4]

    def _field_where(self, field: int) -> str:
        return str(self.path)

    def _field_info(self, field: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
        meta = {k: v[field].item() if hasattr(v[field], "item") else v[field] for k, v in self._meta.items()}
        return self._ids[field], meta, ({"class": self._classes_of[field]} if self._classes_of else {})

    def _root(self) -> Any:
        import zarr

        return zarr.open(str(self.path), mode="r")

    def _read_region(self, field: int, ys: slice, xs: slice) -> np.ndarray:
        """A region of sample ``field`` as stored, (S, C, h, w) with the selected channels, in the store's dtype."""
        try:
            if self._fields is None:
                node = self._root()
                arr = node[self._array_path] if self._array_path else node
                data = np.asarray(arr[(field, slice(None), slice(None), ys, xs) if arr.ndim == 5 else (field, slice(None), ys, xs)])
                data = data[None] if data.ndim == 3 else data
            else:
                entry = self._fields[field]
                selection = tuple(ys if a == "y" else xs if a == "x" else slice(None) for a in entry.axes)
                data = self._field_to_scyx(np.asarray(self._root()[entry.array][selection]), entry.axes)
        except DataError:
            raise
        except Exception as exc:
            raise DataError(f"{self.path}: cannot read sample {self._ids[field]} ({type(exc).__name__}: {exc})") from None
        return data[:, self._pick]

    def _arrange(self, images: np.ndarray) -> np.ndarray:
        return images.transpose(1, 0, 2, 3) if self.set_axis == "channel" else images

    @staticmethod
    def _field_to_scyx(data: np.ndarray, axes: tuple[str, ...]) -> np.ndarray:
        """An OME image with named axes -> (T, C, Y, X); z is max-projected, missing t / c become 1."""
        named = list(axes)
        for axis in ("t", "c"):
            if axis not in named:
                data = data[None]
                named.insert(0, axis)
        if "z" in named:
            data = data.max(axis=named.index("z"))
            named.remove("z")
        return np.transpose(data, [named.index(a) for a in ("t", "c", "y", "x")])
