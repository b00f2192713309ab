"""The README's contract (#11): every ``cellxai`` command line it shows parses with today's CLI (nothing runs),
every setting and ``--set`` it names validates, the Python API and store names it shows exist; and
docs/architecture.md names every core module and the hook specs with their real signatures."""

from __future__ import annotations

import ast
import inspect
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
import yaml
from typer.testing import CliRunner

import cellxai_core as cx
from cellxai_core import api, context, hookspecs, rundir, schema, stages
from cellxai_core.cli import app
from cellxai_core.config import PipelineConfig, load_config
from cellxai_core.registry import get_registry

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()
ARCHITECTURE = (ROOT / "docs" / "architecture.md").read_text()
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")  # typer's own click


def _section(text: str, heading: str) -> str:
    """The text under a markdown heading, up to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = text.index(heading + "\n") + len(heading) + 1
    end = re.search(rf"^#{{1,{len(level)}}} ", text[start:], re.M)
    return text[start:start + end.start()] if end else text[start:]


def _fenced(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)


def _command_lines() -> list[str]:
    """``cellxai ...`` command lines of the README: its code blocks (fenced or indented) and `inline` spans."""
    code = [line.strip() for line in README.splitlines() if line.startswith("    ")]
    code += re.findall(r"`([^`\n]+)`", README)
    found = []
    for chunk in code:
        for part in chunk.split(";"):
            part = re.sub(r"^time ", "", part.split("  #")[0].strip())
            if re.match(r"cellxai (--|[a-z])", part):
                found.append(part)
    return sorted(set(found))


def _variants(line: str) -> list[str]:
    """A synopsis as concrete command lines: ``table|json`` -> ``table``; ``[a | b]`` -> one line each; other
    ``[optional]`` parts and ``...`` repeats once."""
    line = re.sub(r"(\w)\|\w+", r"\1", line)
    alternatives = re.search(r"\[([^\[\]]*\s\|\s[^\[\]]*)\]", line)
    if alternatives is not None:
        return [v for alt in alternatives.group(1).split("|") for v in _variants(line[:alternatives.start()] + alt + line[alternatives.end():])]
    return [re.sub(r"\s+", " ", re.sub(r"\[|\]|\.\.\.", " ", line)).strip()]


def _parse(line: str) -> Any:
    """Resolve the subcommand and let click parse and convert every argument and option (no callback runs)."""
    cmd: Any = typer.main.get_command(app)
    name, rest = "cellxai", shlex.split(line)[1:]
    while hasattr(cmd, "get_command"):  # a group
        sub = cmd.get_command(typer.Context(cmd), rest[0]) if rest else None
        assert sub is not None, f"README: `{line}`: no command {rest[:1]} under `{name}`"
        name, cmd, rest = rest[0], sub, rest[1:]
    if rest:  # a bare mention (`cellxai run`) names the command only
        cmd.make_context(name, rest)
    return cmd


def test_readme_command_lines_parse_with_the_cli():
    lines = _command_lines()
    synopsis = _section(README, "## The command line")
    documented = {re.match(r"cellxai ((?:plugins |datasets )?\w+)", s.strip()).group(1)
                  for s in synopsis.split("\n") if s.strip().startswith("cellxai ")}
    assert documented == {"run", "validate", "schema", "plugins list", "datasets preview", "explain", "evaluate", "compare", "report", "export"}
    parsed = set()
    for line in lines:
        if line.startswith("cellxai --"):
            continue
        for variant in _variants(line):
            cmd = _parse(variant)
            parsed.add(cmd.name)
    assert {d.split()[-1] for d in documented} <= parsed


def test_readme_options_exist_where_it_uses_them():
    top = typer.main.get_command(app)
    assert {"--version", "--debug", "--quiet"} <= {o for p in top.params for o in p.opts}
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"cellxai {cx.__version__}"
    for line in _command_lines():
        for variant in _variants(line):
            if variant.startswith("cellxai --"):
                continue
            opts = {o for p in _parse(variant).params for o in p.opts}
            used = {t.split("=")[0] for t in shlex.split(variant) if t.startswith("--")}
            assert used <= opts, f"README: `{variant}` uses {sorted(used - opts)}"


def test_a_bogus_command_line_would_fail_the_check():
    with pytest.raises(AssertionError):
        _parse("cellxai frobnicate DIR")
    with pytest.raises(UsageError):
        _parse("cellxai run PIPELINE.yaml --out DIR --no-such-option")
    with pytest.raises(UsageError):
        _parse("cellxai explain DIR")  # the explainer's name is missing


def _minimal_pipeline() -> dict:
    blocks = _fenced(_section(README, "## A minimal pipeline file"), "yaml")
    assert len(blocks) == 1
    return yaml.safe_load(blocks[0])


def test_readme_pipeline_file_settings_and_set_overrides_validate():
    data = _minimal_pipeline()
    cfg, params = load_config(data)
    assert (cfg.task, cfg.encoder.name, [e.name for e in cfg.explainers]) == ("cluster", "unet", ["gradcam", "template-text", "cluster-similarity"])
    prose = _section(README, "## A minimal pipeline file")
    named = set(re.findall(r"`(\w+)`", prose)) - {"auto", "local", "dask", "bf16", "fp32"}
    task_fields = {f for t in get_registry().components("task") for f in t.params.model_fields}
    unknown = named - set(PipelineConfig.model_fields) - task_fields
    assert unknown == set(), f"README names settings that are not pipeline-file keys: {sorted(unknown)}"
    for key in ("batch_size", "chunk_size", "threads", "report", "executor", "loader_workers", "precision", "quality", "classify", "uncertainty"):
        assert key in named  # the prose still documents each of them
    sets = re.findall(r"--set ([\w.]+=\w+)", README)
    assert "dataset.params.n_wells=32" in sets and "explainers.0.params.target=true_class" in sets
    for override in [s for s in sets if s.split(".")[0] in data and not s.split("=")[1].isupper()]:  # X: a placeholder
        load_config(data, [override])
    load_config(data, {"executor": {"name": "dask", "workers": 2}, "threads": 1, "loader_workers": "auto", "precision": "auto", "report": True})
    load_config(data, {"executor": {"name": "dask", "address": "tcp://HOST:8786"}})


def test_readme_store_layout_names_the_paths_the_code_writes():
    listing = _section(README, "### The run directory")
    for name, constant in (("config.yaml", "config.yaml"), ("store.zarr", rundir.STORE), ("model.safetensors", context.WEIGHTS),
                           ("results.csv", stages.RESULTS)):
        assert f"DIR/{constant}" in listing, name
    for group in (schema.SAMPLES, schema.FEATURES, schema.CLUSTERS, schema.PREDICTIONS, schema.EXPLANATIONS):
        assert f"{group}/" in listing
    assert schema.explanation("gradcam", "maps") in _section(README, "## The Python API")


def test_readme_python_api_exists_with_the_arguments_it_shows():
    block = "\n".join(_fenced(_section(README, "## The Python API"), "python"))
    calls = [node for node in ast.walk(ast.parse(block)) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
             and isinstance(node.func.value, ast.Name) and node.func.value.id == "cx"]
    assert {c.func.attr for c in calls} == {"run", "open_run", "load_dataset", "load_component"}
    for call in calls:
        signature = inspect.signature(getattr(cx, call.func.attr))
        signature.bind(*[None] * len(call.args), **{k.arg: None for k in call.keywords})
    for attr in set(re.findall(r"\brun\.(\w+)", block)):
        assert hasattr(api.Run, attr), f"README: run.{attr}"
    ds = cx.load_dataset("synthetic-microwell", n_wells=8, seed=0)
    assert len(ds) == 8 and isinstance(ds[0], cx.Sample)
    writing = "\n".join(_fenced(_section(README, "## Writing a plugin"), "python"))
    for module, names in re.findall(r"^from (cellxai_core[\w.]*) import ([\w, ]+)$", writing, re.M):
        imported = __import__(module, fromlist=["_"])
        assert all(hasattr(imported, n.strip()) for n in names.split(","))


def test_architecture_md_names_every_core_module_and_the_real_hook_signatures():
    layout = _section(ARCHITECTURE, "## Layout")
    core = sorted(p.name for p in (ROOT / "cellxai_core").glob("*.py") if p.name != "__init__.py")
    assert [m for m in core if f"  {m} " not in layout] == []
    documented = {}
    for block in _fenced(_section(ARCHITECTURE, "## Hook specs"), "python"):
        for name, args in re.findall(r"^def (cellxai_\w+)\((.*)\) -> None$", block, re.M):
            documented[name] = [a.split(":")[0].strip() for a in args.split(",")]
    specs = {name: list(inspect.signature(getattr(hookspecs, name)).parameters) for name in dir(hookspecs)
             if name.startswith("cellxai_")}
    assert documented == specs
    assert set(hookspecs.HOOKS.values()) | {"cellxai_commands"} == set(specs)
    newcomer = _section(ARCHITECTURE, "## Where a newcomer adds ...")
    assert all(f"**{what}**" in newcomer for what in ("A task", "A report section", "A command"))
