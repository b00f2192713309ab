"""cellxai core: plugin registry, pipeline files, run store and the pipeline.

Importing this package is cheap (no torch); the heavy parts load when used.
"""

from __future__ import annotations

from typing import Any

from .data import Dataset, Sample
from .errors import ConfigError, DataError, PluginError, UserError
from .hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = [
    "ConfigError", "DataError", "Dataset", "PluginError", "Sample", "UserError", "hookimpl",
    "load_component", "load_dataset", "open_run", "run", "__version__",
]


def run(*args: Any, **kwargs: Any) -> Any:
    """Run a pipeline: ``run("pipeline.yaml", out="runs/a", overrides={...})``. See :func:`cellxai_core.pipeline.run`."""
    from .pipeline import run as _run

    return _run(*args, **kwargs)


def open_run(*args: Any, **kwargs: Any) -> Any:
    """Open a finished run directory. See :class:`cellxai_core.api.Run`."""
    from .api import open_run as _open

    return _open(*args, **kwargs)


def load_dataset(*args: Any, **kwargs: Any) -> Any:
    """Build a dataset by name. See :func:`cellxai_core.build.load_dataset`."""
    from .build import load_dataset as _load

    return _load(*args, **kwargs)


def load_component(*args: Any, **kwargs: Any) -> Any:
    """Build any component by kind and name. See :func:`cellxai_core.build.load_component`."""
    from .build import load_component as _load

    return _load(*args, **kwargs)
