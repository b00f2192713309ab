"""The ``Pseudo-labels`` layer: each image's object classes, as the run's own encoder segments them.

Per-pixel pseudo-labels are not in the store (N x S x H x W labels would double a run's
size), so they are recomputed on demand: the first time napari shows a sample, the run's
encoder is rebuilt once from its resolved config and the ``encoder.*`` weights of
``model.safetensors`` through the core API (the Builder the pipeline uses), and its
optional ``pseudo_labels(images)`` -- (N, C, H, W) -> (N, H, W), 0 background, k the k-th
object class -- labels that sample's images. Its calibration (diameters, thresholds) lives
in the saved weights, so the labels are the ones the run trained and measured on.

Whether the layer is offered is decided without torch: encoders that make pseudo-labels
record their object classes under the store's root attr ``objects``
(``cellxai_core.schema.objects``); a run without them gets no layer and a logged reason.
torch is imported only inside the delayed computation.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from cellxai_core import schema

log = logging.getLogger("napari_cellxai")
LAYER = "Pseudo-labels"


class PseudoLabeller:
    """Labels one sample's images with the run's encoder; the model is rebuilt once, on first use, under a lock."""

    def __init__(self, run_dir: Path, config: dict[str, Any], dataset: Any, ids: list[str], registry: Any) -> None:
        self.run_dir, self.config, self.dataset, self.ids, self.registry = Path(run_dir), config, dataset, ids, registry
        self._encoder: Any = None
        self._device = "cpu"
        self._lock = threading.Lock()

    def __dask_tokenize__(self) -> tuple[str, str]:
        return ("napari-cellxai-pseudo-labels", str(self.run_dir.resolve()))

    def encoder(self) -> Any:
        """The run's trained encoder, rebuilt once and checked to have ``pseudo_labels``."""
        with self._lock:
            if self._encoder is None:
                self._encoder, self._device = trained_encoder(self.run_dir, self.config, self.dataset, self.registry)
            return self._encoder

    def __call__(self, index: int) -> np.ndarray:
        """(S, H, W) uint8 labels of sample ``index``: 0 background, k the k-th object class."""
        import torch

        sample = self.dataset[index]
        if str(sample.id) != self.ids[index]:
            raise ValueError(f"sample {index} is now '{sample.id}', the run had '{self.ids[index]}': the data changed since the run")
        encoder = self.encoder()
        images = torch.from_numpy(np.ascontiguousarray(sample.images, dtype=np.float32)).to(self._device)
        with torch.no_grad():
            labels = encoder.pseudo_labels(images)
        return labels.to("cpu").numpy().astype(np.uint8)


def trained_encoder(run_dir: Path, config: dict[str, Any], dataset: Any, registry: Any) -> tuple[Any, str]:
    """The run's encoder as the pipeline builds it (its component with the dataset's channels and objects), with
    the ``encoder.*`` weights of ``model.safetensors``; the fusion and head are not needed for pseudo-labels and
    are not rebuilt, so a run stays viewable when those parts changed since."""
    from safetensors.torch import load_file

    from cellxai_core.build import Builder
    from cellxai_core.config import load_config
    from cellxai_core.context import WEIGHTS
    from cellxai_core.datasets.objects import dataset_objects
    from cellxai_core.errors import DataError
    from cellxai_core.model import resolve_device

    cfg, params = load_config(config, registry=registry)
    device = str(resolve_device(cfg.device))
    encoder = Builder(cfg, params, registry, device).component(
        "encoder", in_channels=len(dataset.channels), objects=dataset_objects(dataset), channels=tuple(dataset.channels))
    if not callable(getattr(encoder, "pseudo_labels", None)):
        raise DataError(f"{run_dir}: encoder '{cfg.encoder.name}' has no pseudo_labels(images)")
    prefix = "encoder."
    state = {k[len(prefix):]: v for k, v in load_file(str(Path(run_dir) / WEIGHTS)).items() if k.startswith(prefix)}
    try:
        encoder.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1].strip()[:300]
        raise DataError(f"{run_dir}: the saved encoder weights do not fit the installed encoder '{cfg.encoder.name}': {first}") from None
    return encoder.to(device).eval(), device


def object_table(objects: list[dict[str, Any]]) -> Any:
    """One row per object class: ``label`` (the value painted), ``object`` (its name), ``name`` (words), ``diameter``."""
    import pandas as pd

    return pd.DataFrame({
        "label": np.arange(1, len(objects) + 1, dtype=np.int32),
        "object": [str(o["name"]) for o in objects],
        "name": [str(o.get("label") or o["name"]) for o in objects],
        "diameter": [float(o.get("diameter") or np.nan) for o in objects],
    })


def pseudo_label_layer(run: Any, dataset: Any | None, why_no_dataset: str | None = None) -> tuple[Any, dict[str, Any], str] | None:
    """(N, S, H, W) uint8 labels, one chunk per sample computed on first view; None (logged) when the run cannot give them."""
    import dask
    import dask.array as da

    from cellxai_core.context import WEIGHTS
    from cellxai_core.registry import get_registry

    objects = schema.objects(run.store)
    encoder = (run.config.get("encoder") or {}).get("name")
    if not objects:
        why = (f"encoder '{encoder}' recorded no object classes (root attr '{schema.OBJECTS}'): it makes no pseudo-labels, "
               "or the run was made before encoders recorded them")
    elif dataset is None:
        why = why_no_dataset or "the dataset could not be rebuilt"
    elif not (run.path / WEIGHTS).is_file():
        why = f"the run has no {WEIGHTS} to rebuild encoder '{encoder}' from"
    else:
        why = None
    if why is not None:
        log.warning("napari-cellxai: no %s layer: %s", LAYER, why)
        return None
    ids = [str(i) for i in run.ids]
    labeller = PseudoLabeller(run.path, run.config, dataset, ids, get_registry())
    h, w = (int(x) for x in dataset.image_size)
    shape = (int(dataset.set_size), h, w)
    label = dask.delayed(labeller, pure=True)
    data = da.stack([da.from_delayed(label(i), shape=shape, dtype=np.uint8) for i in range(len(ids))])
    names = ["background"] + [str(o["name"]) for o in objects]
    meta = {
        "run": str(run.path), "encoder": encoder, "classes": names,
        "label_meaning": "0 = background, k = the k-th object class of features (" + ", ".join(names[1:]) + "); "
        "computed per sample by the run's encoder (pseudo_labels) when first shown",
    }
    return data, {"name": LAYER, "opacity": 0.5, "features": object_table(objects), "metadata": meta}, "labels"
