"""cellxai core: plugin registry, pipeline files, run store and the pipeline.

Importing this package is cheap (no torch); ``run``, ``open_run``, ``load_dataset`` and
``load_component`` (DESIGN §8) are imported from their modules on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .data import Dataset, Sample
from .errors import ConfigError, DataError, NotApplicable, PluginError, UserError
from .hookspecs import hookimpl

__version__ = "0.1.0"
_LAZY = {"run": "pipeline", "open_run": "api", "load_dataset": "build", "load_component": "build"}
__all__ = ["ConfigError", "DataError", "Dataset", "NotApplicable", "PluginError", "Sample", "UserError", "hookimpl", *_LAZY, "__version__"]


def __getattr__(name: str) -> Any:
    """``cx.run(...)``, ``cx.open_run(...)`` ...: see :mod:`cellxai_core.pipeline`, ``api`` and ``build``."""
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
