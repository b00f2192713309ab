"""Everything a plugin author needs, in one import (as tox's ``tox.plugin``)::

    from cellxai_core.plugin import hookimpl, Register, Encoder, Task, schema

    @hookimpl
    def cellxai_encoders(register: Register) -> None:
        register("my-encoder", summary="...", params=MyParams, target="my_pkg.model:MyEncoder")

Importing this module imports no torch.
"""

from __future__ import annotations

from . import schema
from .components import Clusterer, Encoder, Explainer, Fusion, ReportSection, Task
from .context import RunContext
from .store import StageWriter
from .errors import ConfigError, DataError, PluginError, UserError
from .hookspecs import Register, hookimpl
from .testing import use_plugins

__all__ = ["Clusterer", "ConfigError", "DataError", "Encoder", "Explainer", "Fusion", "PluginError", "Register", "ReportSection",
           "RunContext", "StageWriter", "Task", "UserError", "hookimpl", "schema", "use_plugins"]
