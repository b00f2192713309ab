"""Everything a plugin author needs, in one import (as tox's ``tox.plugin``; no torch): ``from cellxai_core.plugin
import hookimpl, Register, Encoder, Task, schema``. An example: the README's "Writing a plugin"."""

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
