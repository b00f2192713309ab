"""Samples cut from fields: whole fields, tiles, or crops centred on objects (shared by the file readers).

A reader says what its *fields* are (a group of files, a time window of a stack, an array
entry), how big each is and how to read a region of one in the file's dtype. This mixin
then lays out the samples (``tile: {size, stride, min_foreground}`` or ``crop_cells``),
estimates dataset-level statistics from an even sample of pieces across all fields (for
``normalize: dataset`` and the foreground threshold), and serves samples region by region,
so a 20,000 x 20,000 image is never decoded into float whole.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from cellxai_core.data import Sample
from cellxai_core.errors import ConfigError, DataError

from .base import check_index
from .objects import ObjectClass, default_objects, parse_objects
from .params import CropCellsParams, TileParams, _tile_shorthand
from .tiles import tile_origins

STATS_PIECES = 32  # pieces read to estimate dataset percentiles / foreground thresholds
STATS_PIXELS = 1 << 14  # pixels per channel kept from each of them


@dataclass(frozen=True)
class Piece:
    """Where one sample comes from: a field and the top-left corner of its region (crops may start outside)."""

    field: int
    y0: int = 0
    x0: int = 0
    row: int = -1
    col: int = -1
    obj: int = -1


def declare_objects(objects: Sequence[Any] | None, names: Sequence[str], where: str) -> tuple[ObjectClass, ...]:
    """The dataset's object classes; a channel that is not among ``names`` is a UserError now, not at segmentation."""
    declared = parse_objects(objects) if objects else None
    if not declared:
        return default_objects(names)
    for obj in declared:
        if obj.channel is not None:
            obj.channel_index(names)
        elif len(names) != 3:
            raise ConfigError(f"{where}: object '{obj.name}' is found by hue / saturation, which needs RGB images, but the "
                              f"images have {len(names)} channel(s) {', '.join(names)}; give channel instead")
    return declared


def even_sample(read: Callable[[int], np.ndarray], n: int) -> np.ndarray:
    """(C, m) raw values of up to STATS_PIECES samples evenly spread over ``range(n)``, each thinned to STATS_PIXELS."""
    picks = np.unique(np.linspace(0, n - 1, min(STATS_PIECES, n)).round().astype(int))
    values = []
    for i in picks:
        raw = read(int(i)).astype(np.float32)
        flat = raw.transpose(1, 0, 2, 3).reshape(raw.shape[1], -1)
        values.append(flat[:, :: max(1, flat.shape[1] // STATS_PIXELS)])
    return np.concatenate(values, axis=1)


def dataset_limits(transform: Any, values: np.ndarray) -> tuple[Any, dict[str, Any]]:
    """The transform with per-channel dataset percentiles of (C, m) ``values`` fixed, and what to record of them."""
    low, high = np.nan_to_num(np.nanpercentile(values, transform.percentiles, axis=1))
    limits = (tuple(float(v) for v in low), tuple(float(v) for v in high))
    return dataclasses.replace(transform, limits=limits), {"percentiles": list(transform.percentiles), "low": list(limits[0]),
                                                           "high": list(limits[1])}


class RegionReader:
    """Mixin: pieces of fields as samples. Readers implement the ``_field_*`` methods and ``_read_region``."""

    transform: Any
    channels: tuple[str, ...]
    set_axis: str
    objects: tuple[ObjectClass, ...]
    _dtype: np.dtype
    _base_meta: tuple[str, ...] = ()

    # -- what a reader provides --------------------------------------------------------------
    def _field_count(self) -> int:
        raise NotImplementedError

    def _field_shape(self, field: int) -> tuple[int, int]:
        raise NotImplementedError

    def _field_info(self, field: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
        raise NotImplementedError

    def _field_where(self, field: int) -> str:
        return f"field {field}"

    def _read_region(self, field: int, ys: slice, xs: slice) -> np.ndarray:
        """(S, C, h, w) of the selected channels, in the file's dtype."""
        raise NotImplementedError

    def _arrange(self, images: np.ndarray) -> np.ndarray:
        """Normalised (S, C, H, W) to the dataset's set axis (isolated channels: transpose)."""
        return images

    # -- layout -------------------------------------------------------------------------------
    def _init_regions(self, tile: Any, crop_cells: Any, objects: Any, object_names: Sequence[str], where: str) -> None:
        """Lay out the samples, estimate dataset statistics, declare objects; call once channels are known."""
        self.objects = declare_objects(objects, object_names, where)
        self.tile = TileParams.model_validate(_tile_shorthand(tile)) if tile is not None else None
        self.crop_cells = CropCellsParams.model_validate(crop_cells) if crop_cells is not None else None
        if self.tile is not None and self.crop_cells is not None:
            raise ConfigError(f"{where}: give either tile or crop_cells, not both")
        shapes = [self._field_shape(f) for f in range(self._field_count())]
        if self.tile is not None:
            self._size = self._tile_pieces(shapes, where)
        else:
            for f, (h, w) in enumerate(shapes):
                self.transform.check_pixels(h, w, self._field_where(f))
            self._pieces = [Piece(f) for f in range(len(shapes))]
            self._size = shapes[0]
            if self.transform.resize is None and self.crop_cells is None:
                odd = next((f for f, s in enumerate(shapes) if s != shapes[0]), None)
                if odd is not None:
                    raise DataError(f"{self._field_where(odd)}: size {shapes[odd]} differs from {self._field_where(0).rsplit('/', 1)[-1]} "
                                    f"{shapes[0]}; set resize or tile to bring every sample to one size")
        self.normalization: dict[str, Any] = {"mode": self.transform.normalize}
        if self.transform.intensity_range is not None and self.transform.normalize == "fixed":
            self.normalization["range"] = list(self.transform.intensity_range)
        stats = self._stats_values() if self._needs_stats() else None
        if stats is not None and self.transform.normalize == "dataset":
            self._set_dataset_limits(stats)
        if self.tile is not None and self.tile.min_foreground > 0:
            self._drop_empty_tiles(stats, where)  # type: ignore[arg-type]
        if self.crop_cells is not None:
            self._crop_pieces(where)
        self.image_size = self.transform.output_size(*self._size, where)
        extra = {"tile": ("tile_row", "tile_col", "tile_y", "tile_x"), "crop": ("object_y", "object_x", "field")}
        kind = "tile" if self.tile is not None else "crop" if self.crop_cells is not None else None
        self.meta_keys = tuple(dict.fromkeys(self._base_meta + (extra[kind] if kind else ())))

    def _tile_pieces(self, shapes: list[tuple[int, int]], where: str) -> tuple[int, int]:
        assert self.tile is not None
        th, tw = self.tile.size  # type: ignore[misc]
        sy, sx = self.tile.stride or (th, tw)  # type: ignore[misc]
        self.transform.check_pixels(th, tw, f"{where} (tile)")
        pieces = []
        for f, (h, w) in enumerate(shapes):
            if th > h or tw > w:
                raise ConfigError(f"{self._field_where(f)}: tile {th}x{tw} is larger than the image ({h}x{w})")
            rows, cols = tile_origins(h, th, sy), tile_origins(w, tw, sx)
            pieces += [Piece(f, y0, x0, r, c) for r, y0 in enumerate(rows) for c, x0 in enumerate(cols)]
        self._pieces = pieces
        return (th, tw)

    def _needs_stats(self) -> bool:
        return self.transform.normalize == "dataset" or (self.tile is not None and self.tile.min_foreground > 0)

    def _stats_values(self) -> np.ndarray:
        return even_sample(lambda i: self._read_piece(self._pieces[i]), len(self._pieces))

    def _set_dataset_limits(self, values: np.ndarray) -> None:
        self.transform, record = dataset_limits(self.transform, values)
        self.normalization.update(record, channels=list(self.channels), pieces=min(STATS_PIECES, len(self._pieces)))

    def _drop_empty_tiles(self, values: np.ndarray, where: str) -> None:
        """Keep tiles whose foreground fraction (any channel above its dataset Otsu threshold) reaches min_foreground."""
        from .tiles import foreground_thresholds, tile_fractions

        assert self.tile is not None
        thresholds = foreground_thresholds(values)
        kept, total = [], len(self._pieces)
        by_row: dict[tuple[int, int], list[Piece]] = {}
        for p in self._pieces:
            by_row.setdefault((p.field, p.y0), []).append(p)
        th, tw = self._size
        for (field, y0), row in by_row.items():
            x_end = row[-1].x0 + tw
            band = self._read_region(field, slice(y0, y0 + th), slice(0, x_end))
            fractions = tile_fractions(band, thresholds, [p.x0 for p in row], tw)
            kept += [p for p, frac in zip(row, fractions) if frac >= self.tile.min_foreground]
        if not kept:
            raise DataError(f"{where}: no tile of {total} has min_foreground {self.tile.min_foreground} (foreground "
                            f"thresholds {[round(float(t), 3) for t in thresholds]}); lower min_foreground")
        self._pieces = kept
        self.normalization.update(foreground_thresholds=[float(t) for t in thresholds], tiles_total=total, tiles_kept=len(kept))

    def _crop_pieces(self, where: str) -> None:
        from .crops import object_centres

        assert self.crop_cells is not None
        obj = next(o for o in self.objects if o.name == self.crop_cells.object) if any(
            o.name == self.crop_cells.object for o in self.objects) else None
        if obj is None or obj.channel is None:
            raise ConfigError(f"{where}: crop_cells object '{self.crop_cells.object}' must be declared in objects with a channel")
        size = self.crop_cells.size
        names = self._object_channel_names()
        channel = obj.channel_index(names)
        diameter = None if obj.diameter == "auto" else float(obj.diameter)
        pieces, diameters = [], []
        for f in range(self._field_count()):
            h, w = self._field_shape(f)
            image = self._object_image(f, channel, h, w)
            centres, used = object_centres(image, diameter)
            diameters.append(used)
            pieces += [Piece(f, int(cy) - size // 2, int(cx) - size // 2, obj=k) for k, (cy, cx) in enumerate(centres)]
        if not pieces:
            raise DataError(f"{where}: crop_cells found no '{obj.name}' object in any field; check its channel and diameter")
        self._pieces, self._size = pieces, (size, size)
        self.object_diameters = {obj.name: float(np.median(diameters))}

    def _object_channel_names(self) -> Sequence[str]:
        return self.channels

    def _object_image(self, field: int, channel: int, h: int, w: int) -> np.ndarray:
        """The 2-D image an object class is segmented in: its channel, first set position."""
        raw = self._read_region(field, slice(0, h), slice(0, w))
        return raw[0, channel].astype(np.float32)

    # -- access -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._pieces)

    def _read_piece(self, piece: Piece) -> np.ndarray:
        """The raw region of a piece; crops reaching past a border are padded with the region's minimum."""
        h, w = self._field_shape(piece.field)
        th, tw = self._size if (self.tile is not None or self.crop_cells is not None) else (h, w)
        y0, x0 = max(piece.y0, 0), max(piece.x0, 0)
        y1, x1 = min(piece.y0 + th, h), min(piece.x0 + tw, w)
        data = self._read_region(piece.field, slice(y0, y1), slice(x0, x1))
        if data.shape[-2:] != (th, tw):
            pad = [(0, 0), (0, 0), (y0 - piece.y0, piece.y0 + th - y1), (x0 - piece.x0, piece.x0 + tw - x1)]
            fill = np.nanmin(data, axis=(0, 2, 3)) if data.size else np.zeros(data.shape[1])
            data = np.stack([np.pad(data[:, c], pad[:1] + pad[2:], constant_values=fill[c]) for c in range(data.shape[1])], axis=1)
        return data

    def raw(self, index: int) -> np.ndarray:
        """Sample ``index`` as stored, (S, C, h, w) of the selected channels, in the file's dtype."""
        return self._read_piece(self._pieces[check_index(index, len(self))])

    def describe(self, index: int) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """Id, meta and scalar truth of sample ``index`` without reading its pixels."""
        piece = self._pieces[check_index(index, len(self))]
        sid, meta, truth = self._field_info(piece.field)
        meta = dict(meta)
        if self.tile is not None:
            meta.update(tile_row=piece.row, tile_col=piece.col, tile_y=piece.y0, tile_x=piece.x0)
            sid = f"{sid}_y{piece.y0}_x{piece.x0}"
        elif self.crop_cells is not None:
            half = self.crop_cells.size // 2
            meta.update(object_y=piece.y0 + half, object_x=piece.x0 + half)
            meta.setdefault("field", sid)
            sid = f"{sid}_{self.crop_cells.object}{piece.obj:04d}"
        return sid, meta, truth

    def __getitem__(self, index: int) -> Sample:
        sid, meta, truth = self.describe(index)
        images = self._arrange(self.transform.apply(self.raw(index), self._dtype))
        return Sample(id=sid, images=np.ascontiguousarray(images), channels=self.channels,
                      set_axis=self.set_axis, meta=meta, truth=truth)  # type: ignore[arg-type]
