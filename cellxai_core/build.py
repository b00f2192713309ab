"""Build components by name (DESIGN §8) and, for a run, from its validated pipeline file."""

from __future__ import annotations

import inspect
import zlib
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .config import checked_params
from .data import Dataset
from .datasets.objects import dataset_objects
from .errors import DataError, UserError
from .registry import Registry, get_registry

if TYPE_CHECKING:  # pragma: no cover
    from .config import PipelineConfig

# What the pipeline passes besides the params, per kind (DESIGN §4); the OPTIONAL ones only to factories that name them.
CONSTRUCTION_EXTRAS = {"encoder": ("in_channels", "objects", "channels"), "fusion": ("token_dim", "side_dim", "set_size", "side_names")}
OPTIONAL_EXTRAS = ("objects", "channels", "side_names")  # the dataset's object classes and channels, the side features' names


def stage_seed(seed: int, stage: str) -> int:
    """A per-stage seed, so a stage's randomness does not depend on earlier stages having run."""
    return (seed * 1_000_003 + zlib.crc32(stage.encode())) % (2**31)


def validated_params(kind: str, name: str, params: dict[str, Any], registry: Registry | None = None) -> BaseModel:
    """Validate ``params`` with the component's Params model; unknown keys are errors."""
    return checked_params((registry or get_registry()).get(kind, name), params, f"{kind} '{name}'", "params")


def construct(kind: str, name: str, params: BaseModel, registry: Registry | None = None, **extra: Any) -> Any:
    """Import the component's target and call it with the params (and kind-specific extras)."""
    factory = (registry or get_registry()).get(kind, name).load()
    kwargs = params.model_dump()
    kwargs.update({k: v for k, v in extra.items() if k not in OPTIONAL_EXTRAS or k in inspect.signature(factory).parameters})
    try:
        return factory(**kwargs)
    except UserError:
        raise
    except FileNotFoundError as exc:
        raise DataError(f"{kind} '{name}': {exc}") from None


def load_component(kind: str, name: str, /, registry: Registry | None = None, **params: Any) -> Any:
    """A component in plain Python, ``load_component("encoder", "unet", base_channels=16, in_channels=3)``: CONSTRUCTION_EXTRAS + validated params."""
    extras = CONSTRUCTION_EXTRAS.get(kind, ())
    own = {k: v for k, v in params.items() if k not in extras}
    extra = {k: v for k, v in params.items() if k in extras}
    return construct(kind, name, validated_params(kind, name, own, registry), registry, **extra)


def load_dataset(name: str, /, registry: Registry | None = None, **params: Any) -> Dataset:
    """Build a dataset by name: ``load_dataset("synthetic-microwell", n_wells=8, seed=0)``."""
    return load_component("dataset", name, registry=registry, **params)


class Builder:
    """Builds a run's components from its validated pipeline file, on its resolved device."""

    def __init__(self, cfg: "PipelineConfig", params: dict[str, BaseModel], registry: Registry, device: str) -> None:
        self.cfg, self.params, self.registry, self.device = cfg, params, registry, device

    def import_targets(self) -> None:
        """Import every component the pipeline uses, so a broken plugin fails before the first stage."""
        for _, kind, spec in self.cfg.components():
            self.registry.get(kind, spec.name).load()
        self.registry.get("task", self.cfg.task).load()

    def _on_device(self, params: BaseModel, given: dict[str, Any]) -> BaseModel:
        """``params`` with ``device`` from the run where they have one that the file (``given``) does not set."""
        return params.model_copy(update={"device": self.device}) if "device" in type(params).model_fields and "device" not in given else params

    def component(self, path: str, **extra: Any) -> Any:
        """The component at a field path (``encoder``, ``explainers[1]``), on the run's device."""
        kind, spec = next((k, s) for p, k, s in self.cfg.components() if p == path)
        return construct(kind, spec.name, self._on_device(self.params[path], spec.params), self.registry, **extra)

    def dataset(self) -> Dataset:
        dataset = self.component("dataset")
        if len(dataset) == 0:
            raise UserError(f"dataset '{self.cfg.dataset.name}' has no samples")
        return dataset

    def task(self) -> Any:
        return construct("task", self.cfg.task, self.params["task"], self.registry)

    def explainer(self, name: str, params: dict[str, Any]) -> Any:
        """An explainer that is not in the pipeline file (``cellxai explain RUN NAME``)."""
        return construct("explainer", name, self._on_device(validated_params("explainer", name, params, self.registry), params), self.registry)

    def new_model(self, dataset: Dataset, task: Any) -> Any:
        """Encoder + fusion (+ the task's head and input transform), freshly initialised from the seed."""
        import torch

        from .model import SampleModel, seed_everything

        seed_everything(stage_seed(self.cfg.seed, "model"))
        encoder = self.component("encoder", in_channels=len(dataset.channels), objects=dataset_objects(dataset), channels=tuple(dataset.channels))
        names = list(getattr(encoder, "handcrafted_names", []) or []) if hasattr(encoder, "handcrafted") else []
        fusion = self.component("fusion", token_dim=encoder.out_dim, side_dim=len(names), set_size=dataset.set_size, side_names=names)
        n_out = task.head_size(dataset) if task is not None else None
        head = torch.nn.Linear(fusion.out_dim, n_out) if n_out else None
        transform = task.input_transform() if hasattr(task, "input_transform") else None
        return SampleModel(encoder, fusion, head, transform)
