"""Build components by name from the registry (DESIGN §8: ``load_component``, ``load_dataset``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from .config import format_validation_error
from .data import Dataset
from .errors import ConfigError, DataError, UserError
from .registry import Registry, get_registry

# What the pipeline passes besides the params, per kind (DESIGN §4).
CONSTRUCTION_EXTRAS = {"encoder": ("in_channels",), "fusion": ("token_dim", "side_dim", "set_size")}


def validated_params(kind: str, name: str, params: dict[str, Any], registry: Registry | None = None) -> BaseModel:
    """Validate ``params`` with the component's Params model; unknown keys are errors."""
    reg = (registry or get_registry()).get(kind, name)
    unknown = sorted(set(params) - set(reg.params.model_fields))
    if unknown:
        raise ConfigError(f"{kind} '{name}': unknown parameter '{unknown[0]}'; expected one of: {', '.join(reg.params.model_fields) or 'none'}")
    try:
        return reg.params.model_validate(params)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(f"{kind} '{name}'", exc, prefix="params")) from None


def construct(kind: str, name: str, params: BaseModel, registry: Registry | None = None, **extra: Any) -> Any:
    """Import the component's target and call it with the params (and kind-specific extras)."""
    reg = (registry or get_registry()).get(kind, name)
    factory = reg.load()
    kwargs = params.model_dump()
    kwargs.update(extra)
    try:
        return factory(**kwargs)
    except (UserError, FileNotFoundError) as exc:
        if isinstance(exc, UserError):
            raise
        raise DataError(f"{kind} '{name}': {exc}") from None


def load_component(kind: str, name: str, /, registry: Registry | None = None, **params: Any) -> Any:
    """Build a component by kind and name in plain Python, e.g.
    ``load_component("encoder", "unet", base_channels=16, in_channels=3)``.

    ``in_channels`` (encoders) and ``token_dim`` / ``side_dim`` / ``set_size`` (fusions)
    are passed to the constructor; everything else is validated by the Params model.
    """
    reg = (registry or get_registry()).get(kind, name)
    extras = CONSTRUCTION_EXTRAS.get(kind, ())
    own = {k: v for k, v in params.items() if k not in extras}
    extra = {k: v for k, v in params.items() if k in extras}
    return construct(kind, name, validated_params(kind, name, own, registry), registry, **extra)


def load_dataset(name: str, /, registry: Registry | None = None, **params: Any) -> Dataset:
    """Build a dataset by name: ``load_dataset("synthetic-microwell", n_wells=8, seed=0)``."""
    return load_component("dataset", name, registry=registry, **params)
