"""Pipeline files: pydantic models, ``--set`` overrides, plugin params validation. A bad file gets one line naming
the file, the field path and what was expected."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError, PluginError
from .registry import Registry, get_registry

COMPONENT_FIELDS = ("dataset", "encoder", "fusion", "clusterer")


class ComponentSpec(BaseModel):
    """A component chosen by name, with its plugin's own params."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="registered component name (see `cellxai plugins list`)")
    params: dict[str, Any] = Field(default_factory=dict, description="validated by the plugin's Params model")


class ExecutorSpec(BaseModel):
    """``{name: local}``, or an executor plugin's name with its params beside it (``{name: dask, workers: 2}``)."""

    model_config = ConfigDict(extra="allow")
    name: str = Field("local", description="local (this process) or an installed executor (`cellxai plugins list --kind executor`)")


class PipelineConfig(BaseModel):
    """The whole pipeline file (DESIGN §5). Keys not named here are the chosen task's sections,
    validated by the task's own Params model (:func:`validate_params`)."""

    model_config = ConfigDict(extra="allow")

    seed: int = Field(0, ge=0, lt=2**32, description="seeds python, numpy, torch and every component (numpy's range)")
    device: str = Field("auto", description="auto | cpu | cuda | cuda:N (auto = CUDA when present)")
    task: str = Field("cluster", description="cluster | classify, or any installed task (`cellxai plugins list --kind task`)")
    batch_size: int = Field(16, ge=1, description="samples per batch in encode / explain")
    chunk_size: int = Field(64, ge=1, description="samples per resumable chunk of the encode stage")
    threads: int | None = Field(
        None, ge=1,
        description="CPU threads torch uses (default: torch's own choice, one per core); 1 is often faster on a "
        "busy machine. Results are reproducible for the same seed, device and thread count",
    )
    executor: ExecutorSpec = Field(default_factory=lambda: ExecutorSpec.model_validate({}), description="local | dask (not part of the results)")
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="encode: bf16 autocast (CUDA only); auto = bf16 where CUDA has it")
    loader_workers: Annotated[int, Field(ge=0, le=64)] | Literal["auto"] = Field(
        "auto", description="threads that load batches ahead of the model (0: load in the main thread); auto: 1-4 by cores")
    dataset: ComponentSpec
    encoder: ComponentSpec
    fusion: ComponentSpec
    clusterer: ComponentSpec | None = None
    explainers: list[ComponentSpec] = Field(default_factory=list)
    report: bool = Field(False, description="write report.html at the end of the run")

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value in ("auto", "cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit()):
            return value
        raise ValueError("expected auto, cpu, cuda or cuda:N")

    def components(self) -> list[tuple[str, str, ComponentSpec]]:
        """(field path, kind, spec) for every component in the file."""
        out = [(f, f, getattr(self, f)) for f in COMPONENT_FIELDS if getattr(self, f) is not None]
        out += [(f"explainers[{i}]", "explainer", spec) for i, spec in enumerate(self.explainers)]
        return out


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def format_validation_error(source: str, exc: ValidationError, prefix: str = "") -> str:
    """One line: ``file: field.path: message (got value)``, plus a count of further errors."""
    errors = exc.errors()
    first = errors[0]
    path = _loc(tuple(first["loc"]))
    if prefix:
        path = f"{prefix}.{path}" if path != "(top level)" else prefix
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "missing":
        msg = "required field is missing"
    elif "input" in first and not isinstance(first["input"], (dict, list)):
        msg += f" (got {first['input']!r})"
    more = f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{source}: {path}: {msg}{more}"


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a pipeline file with ``yaml.safe_load``; errors name the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: pipeline file not found") from None
    except (OSError, UnicodeError) as exc:
        raise ConfigError(f"{path}: cannot read pipeline file: {exc.strerror if isinstance(exc, OSError) else 'not UTF-8 text'}") from None
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: {where}malformed YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of pipeline settings at the top level, got {type(data).__name__}")
    return data


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any] | list[str] | None, source: str) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides; string values are parsed as YAML scalars/lists."""
    data = copy.deepcopy(data)
    if not overrides:
        return data
    items: list[tuple[str, Any]] = []
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        for item in overrides:
            key, sep, raw = item.partition("=")
            if not sep or not key.strip():
                raise ConfigError(f"--set {item!r}: expected key.path=value")
            try:
                value = yaml.safe_load(raw) if raw.strip() else ""
            except yaml.YAMLError:
                value = raw
            items.append((key.strip(), value))
    items.sort(key=lambda item: not item[0].endswith(".name"))  # a new name first, then its params
    for key, value in items:
        node: Any = data
        parts = key.split(".")
        for depth, part in enumerate(parts[:-1]):
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(f"{source}: --set {key}: no list item {part!r} at {'.'.join(parts[:depth + 1])}")
                node = node[int(part)]
                continue
            if part not in node or node[part] is None:
                node[part] = {}
            if not isinstance(node[part], (dict, list)):
                raise ConfigError(f"{source}: --set {key}: {'.'.join(parts[:depth + 1])} is not a mapping")
            node = node[part]
        last = parts[-1]
        if last == "name" and isinstance(node, dict) and node.get("name") not in (None, value):
            node.pop("params", None)  # another component: start from its own defaults, not the old one's params
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise ConfigError(f"{source}: --set {key}: no list item {last!r}")
            node[int(last)] = value
        else:
            node[last] = value
    return data


def checked_params(reg: Any, given: dict[str, Any], source: str, prefix: str) -> BaseModel:
    """``given`` validated by the registration's Params model; an unknown key names the allowed ones."""
    fields = reg.params.model_fields
    unknown = sorted(set(given) - set(fields))
    if unknown:
        allowed = ", ".join(fields) or "none"
        raise ConfigError(f"{source}: {prefix}.{unknown[0]}: unknown parameter '{unknown[0]}' of {reg.kind} '{reg.name}'; expected one of: {allowed}")
    try:
        return reg.params.model_validate(given)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc, prefix=prefix)) from None


def validate_params(
    cfg: PipelineConfig, source: str, registry: Registry | None = None
) -> dict[str, BaseModel]:
    """Every component's ``params`` validated by its plugin's Params model, keyed by field path; ``seed`` /
    ``random_state`` come from the run seed where the component has them and the file does not set them."""
    registry = registry or get_registry()
    out: dict[str, BaseModel] = {}
    for path, kind, spec in cfg.components():
        try:
            reg = registry.get(kind, spec.name)
        except PluginError as exc:
            raise PluginError(f"{source}: {path}.name: {exc}") from None
        params: dict[str, Any] = {name: cfg.seed for name in ("seed", "random_state") if name in reg.params.model_fields} | spec.params
        out[path] = checked_params(reg, params, source, f"{path}.params")
    out["task"] = _task_params(cfg, source, registry)
    if cfg.executor.name == "local" and cfg.executor.model_extra:
        raise ConfigError(f"{source}: executor.{next(iter(cfg.executor.model_extra))}: unknown key (executor local takes no params)")
    if cfg.executor.name != "local":
        try:
            reg = registry.get("executor", cfg.executor.name)
        except PluginError as exc:
            raise PluginError(f"{source}: executor.name: {exc}") from None
        out["executor"] = checked_params(reg, dict(cfg.executor.model_extra or {}), source, "executor")
    return out


def _task_params(cfg: PipelineConfig, source: str, registry: Registry) -> BaseModel:
    """The chosen task's sections of the file, validated by its Params model; its ``needs`` checked."""
    try:
        reg = registry.get("task", cfg.task)
    except PluginError as exc:
        raise PluginError(f"{source}: task: {exc}") from None
    sections = dict(cfg.model_extra or {})  # the top-level keys PipelineConfig does not name
    fields = reg.params.model_fields
    unknown = sorted(set(sections) - set(fields))
    if unknown:
        owners = [t.name for t in registry.components("task") if unknown[0] in t.params.model_fields]
        hint = f"; it belongs to task {owners[0]}" if owners else ""
        raise ConfigError(f"{source}: {unknown[0]}: unknown key for task '{cfg.task}'{hint}")
    for need in reg.options.get("needs", ()):
        if getattr(cfg, need, None) is None:
            raise ConfigError(f"{source}: {need}: required when task is {cfg.task}")
    try:
        return reg.params.model_validate(sections)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None


def load_config(
    source: str | Path | Mapping[str, Any],
    overrides: Mapping[str, Any] | list[str] | None = None,
    registry: Registry | None = None,
) -> tuple[PipelineConfig, dict[str, BaseModel]]:
    """Read, override and validate a pipeline (file path or mapping)."""
    if isinstance(source, Mapping):
        name, data = "<config>", dict(source)
    else:
        name, data = str(source), read_yaml(source)
    data = apply_overrides(data, overrides, name)
    try:
        cfg = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(name, exc)) from None
    return cfg, validate_params(cfg, name, registry)


def resolved_config(cfg: PipelineConfig, params: dict[str, BaseModel]) -> dict[str, Any]:
    """The config with every component's params filled in with defaults (what config.yaml records)."""
    data = cfg.model_dump(mode="json")
    data.update(params["task"].model_dump(mode="json"))
    if "executor" in params:
        data["executor"] = {"name": cfg.executor.name, **params["executor"].model_dump(mode="json")}
    for path, _, _ in cfg.components():
        full = params[path].model_dump(mode="json")
        if path.startswith("explainers["):
            data["explainers"][int(path[11:-1])]["params"] = full
        else:
            data[path]["params"] = full
    return data


def _params_schema(reg: Any, defs: dict[str, Any]) -> dict[str, Any]:
    """A registration's Params schema, its sub-models moved to the shared ``$defs`` under a unique prefix."""
    prefix = f"{reg.kind}.{reg.name}."
    sub = reg.params.model_json_schema(ref_template="#/$defs/" + prefix + "{model}")
    defs.update({prefix + key: value for key, value in sub.pop("$defs", {}).items()})
    return sub


def json_schema(registry: Registry | None = None) -> dict[str, Any]:
    """JSON Schema of pipeline files, each component's params and each task's sections included."""
    registry = registry or get_registry()
    schema = PipelineConfig.model_json_schema()
    defs, props = schema.setdefault("$defs", {}), schema["properties"]
    choices: dict[str, list[dict[str, Any]]] = {k: [] for k in (*COMPONENT_FIELDS, "explainer")}
    for reg in registry.components():
        if reg.kind == "task":  # a task's Params fields are top-level sections of the file
            for key, value in _params_schema(reg, defs).get("properties", {}).items():
                props.setdefault(key, {**value, "description": f"(task {reg.name}) " + value.get("description", "")})
        elif reg.kind in choices:
            choices[reg.kind].append({
                "type": "object", "description": reg.summary, "required": ["name"], "additionalProperties": False,
                "properties": {"name": {"const": reg.name}, "params": _params_schema(reg, defs)},
            })
    props["task"] = {**props["task"], "enum": registry.names("task")}
    for kind in COMPONENT_FIELDS:
        if choices[kind]:
            props[kind] = {"anyOf": choices[kind] + ([{"type": "null"}] if kind == "clusterer" else []), "description": f"a registered {kind}"}
    if choices["explainer"]:
        props["explainers"] = {"type": "array", "items": {"anyOf": choices["explainer"]}}
    schema.update({"additionalProperties": False, "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "cellxai pipeline"})
    return schema
