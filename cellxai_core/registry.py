"""Plugin discovery (entry-point group ``cellxai``, each plugin loaded in its own guard), listing, and lookup by
kind and name (unique per kind). The rules: docs/architecture.md, "Hook specs"."""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Iterable

import pluggy
from pydantic import BaseModel, ConfigDict

from . import hookspecs
from .errors import PluginError

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "cellxai"
DISABLE_ENV = "CELLXAI_DISABLE_PLUGINS"


class NoParams(BaseModel):
    """Params model of components that take none."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Registration:
    """One component: what the registry knows about it without importing it."""

    name: str
    kind: str
    summary: str
    params: type[BaseModel]
    target: str
    plugin: str
    distribution: str
    version: str
    options: dict[str, Any] = field(default_factory=dict, compare=False)

    def load(self, target: str | None = None) -> Callable[..., Any]:
        """Import the target (``"pkg.module:Object"``, or another of its options): the only place a component's code is imported."""
        target = target or self.target
        module_name, _, attr = target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split(".") if attr else []:
                obj = getattr(obj, part)
        except Exception as exc:  # a plugin's own import error, reported as the user's problem
            raise PluginError(
                f"{self.kind} '{self.name}' (plugin {self.distribution}) failed to import "
                f"{target}: {type(exc).__name__}: {exc}"
            ) from exc
        return obj


@dataclass
class PluginRecord:
    """One loaded (or not) plugin: an entry point or an in-process plugin object."""

    name: str
    distribution: str
    version: str
    status: str = "ok"  # ok | error | blocked
    error: str = ""
    components: list[Registration] = field(default_factory=list)


class Registry:
    """Components by kind and name, and the plugins they came from: one pluggy manager."""

    def __init__(self) -> None:
        self.plugins: list[PluginRecord] = []
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self._components: dict[tuple[str, str], Registration] = {}
        self._duplicates: dict[tuple[str, str], list[Registration]] = {}

    @classmethod
    def from_entry_points(cls) -> "Registry":
        """Discover every installed plugin of the ``cellxai`` entry-point group, each in its own guard."""
        reg = cls()
        blocked = {b.strip() for b in os.environ.get(DISABLE_ENV, "").split(",") if b.strip()}
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else "?"
            version = ep.dist.version if ep.dist is not None else "?"
            record, plugin = PluginRecord(ep.name, dist, version), None
            if ep.name in blocked or dist in blocked:
                record.status, record.error = "blocked", f"blocked by {DISABLE_ENV}"
            else:
                try:
                    plugin = ep.load()
                except Exception as exc:
                    record.status, record.error = "error", f"{type(exc).__name__}: {exc}"
                    log.warning("cellxai plugin %s (%s) failed to load: %s", ep.name, dist, record.error)
            reg.add_plugin(plugin, record) if plugin is not None else reg.plugins.append(record)
        return reg

    def add_plugin(self, plugin: Any, record: PluginRecord | None = None) -> PluginRecord:
        """Register one plugin object (module or instance) and collect its components. A hook implementation
        that is no hook spec (a misspelt ``cellxai_encoder``) fails ``check_pending``: the plugin is recorded as broken."""
        if record is None:
            name = getattr(plugin, "__name__", type(plugin).__name__)
            record = PluginRecord(name, distribution=name, version="0+local")
        self.plugins.append(record)
        try:
            self.manager.register(plugin, name=record.name)
            self.manager.check_pending()
            for kind, hook_name in hookspecs.HOOKS.items():
                for impl in getattr(self.manager.hook, hook_name).get_hookimpls():
                    if impl.plugin is plugin:
                        impl.function(register=self._register_callback(kind, record))
        except Exception as exc:
            record.status, record.error = "error", f"{type(exc).__name__}: {exc}"
            if self.manager.is_registered(plugin) and self.manager.get_name(plugin) == record.name:
                self.manager.unregister(plugin)
            log.warning("cellxai plugin %s failed to register: %s", record.name, record.error)
        return record

    def add_commands(self, cli: Any) -> None:
        """Let every plugin add its commands to the typer app (``cellxai_commands``), each guarded."""
        by_name = {p.name: p for p in self.plugins}
        for impl in self.manager.hook.cellxai_commands.get_hookimpls():
            try:
                impl.function(cli=cli)
            except Exception as exc:
                record = by_name.get(impl.plugin_name)
                if record is not None:
                    record.status, record.error = "error", f"commands: {type(exc).__name__}: {exc}"
                log.warning("cellxai plugin %s failed to add its commands: %s", impl.plugin_name, exc)

    def _register_callback(self, kind: str, record: PluginRecord) -> hookspecs.Register:
        def register(
            name: str, *, summary: str, target: str, params: type[BaseModel] | None = None, **options: Any
        ) -> None:
            if ":" not in target:
                raise ValueError(f"{kind} '{name}': target must look like 'package.module:Object', got {target!r}")
            line = summary.strip().splitlines()[0] if summary.strip() else ""
            entry = Registration(name, kind, line, params or NoParams, target, record.name, record.distribution, record.version, dict(options))
            key = (kind, name)
            if key in self._components:
                first = self._components[key]
                self._duplicates.setdefault(key, [first]).append(entry)
                msg = f"duplicate {kind} name '{name}': registered by {first.distribution} and by {entry.distribution}"
                record.status, record.error = "error", msg
                log.error(msg)
                return
            self._components[key] = entry
            record.components.append(entry)

        return register

    def components(self, kind: str | None = None) -> list[Registration]:
        """All registrations, optionally of one kind, sorted by kind then name."""
        items = [r for (k, _), r in self._components.items() if kind in (None, k)]
        return sorted(items, key=lambda r: (hookspecs.KINDS.index(r.kind), r.name))

    def names(self, kind: str) -> list[str]:
        return [r.name for r in self.components(kind)]

    def get(self, kind: str, name: str) -> Registration:
        """The registration of ``name``, or a one-line error listing what is available."""
        if kind not in hookspecs.KINDS:
            raise PluginError(f"unknown component kind '{kind}'; expected one of {', '.join(hookspecs.KINDS)}")
        key = (kind, name)
        if key in self._duplicates:
            dists = " and ".join(r.distribution for r in self._duplicates[key])
            raise PluginError(f"{kind} '{name}' is registered twice, by {dists}; uninstall or disable one")
        if key in self._components:
            return self._components[key]
        available = ", ".join(self.names(kind)) or "none installed"
        msg = f"unknown {kind} '{name}'; available: {available}"
        broken = [p for p in self.plugins if p.status != "ok"]
        if broken:
            msg += "; plugins not loaded: " + "; ".join(f"{p.name} ({p.distribution}): {p.error}" for p in broken)
        raise PluginError(msg)


_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, discovered from entry points on first use."""
    global _registry
    if _registry is None:
        _registry = Registry.from_entry_points()
    return _registry


def set_registry(registry: Registry | None) -> Registry | None:
    """Replace the process-wide registry (None: rediscover); returns the previous one."""
    global _registry
    previous, _registry = _registry, registry
    return previous


def registry_with(plugins: Iterable[Any], *, installed: bool = False) -> Registry:
    """A registry holding the given plugin objects (and the installed ones if asked)."""
    reg = Registry.from_entry_points() if installed else Registry()
    for plugin in plugins:
        reg.add_plugin(plugin)
    return reg
