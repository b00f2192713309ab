"""Helpers for plugin authors' tests: use a plugin without installing it."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from .registry import Registry, registry_with, set_registry


@contextlib.contextmanager
def use_plugins(*plugins: Any, installed: bool = False) -> Iterator[Registry]:
    """Run the block with an isolated registry holding ``plugins``.

    With ``installed=True`` the installed plugins are there too, so a test can
    combine its own component with built-in datasets, say.

        with use_plugins(my_plugin_module, installed=True) as reg:
            assert "my-encoder" in reg.names("encoder")
            cx.run(config, out=tmp_path / "run")
    """
    reg = registry_with(plugins, installed=installed)
    previous = set_registry(reg)
    try:
        yield reg
    finally:
        set_registry(previous)
