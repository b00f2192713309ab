"""Helpers for plugin authors' tests: use a plugin without installing it."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from .registry import Registry, registry_with, set_registry


@contextlib.contextmanager
def use_plugins(*plugins: Any, installed: bool = False) -> Iterator[Registry]:
    """Run the block with an isolated registry holding ``plugins`` (and, with ``installed=True``, the installed
    ones, to combine a test's own component with built-in datasets); an example is in the README."""
    reg = registry_with(plugins, installed=installed)
    previous = set_registry(reg)
    try:
        yield reg
    finally:
        set_registry(previous)
