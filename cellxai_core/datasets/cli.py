"""``cellxai datasets preview``: look at a dataset before running a pipeline on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import typer

from ..errors import ConfigError

datasets_app = typer.Typer(help="Look at datasets before running a pipeline.", no_args_is_help=True)


def _dataset_section(path: Path) -> tuple[str, dict[str, Any]]:
    """``dataset.name`` and ``dataset.params`` of a pipeline file (read with yaml.safe_load)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} invalid YAML ({getattr(exc, 'problem', None) or exc})") from None
    section = data.get("dataset") if isinstance(data, dict) else None
    if not isinstance(section, dict) or not isinstance(section.get("name"), str):
        raise ConfigError(f"{path}: field 'dataset.name' is missing; expected dataset: {{name: ..., params: {{...}}}}")
    params = section.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: field 'dataset.params' must be a mapping, got {type(params).__name__}")
    return section["name"], dict(params)


def parse_settings(settings: list[str]) -> dict[str, Any]:
    """``key=value`` pairs (values parsed as YAML: numbers, lists, booleans); dotted keys nest."""
    import yaml

    out: dict[str, Any] = {}
    for item in settings:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set n_wells=16")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        for prefix in ("dataset.params.", "params."):
            key = key[len(prefix):] if key.startswith(prefix) else key
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def resolve(source: str) -> tuple[str, dict[str, Any]]:
    """A dataset name with no params, or the dataset section of a pipeline file."""
    path = Path(source)
    if path.suffix.lower() in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"{path}: pipeline file does not exist")
        return _dataset_section(path)
    return source, {}


@datasets_app.command("preview")
def preview(
    source: str = typer.Argument(..., help="a dataset name (e.g. synthetic-microwell) or a pipeline YAML file"),
    out: Path = typer.Option(Path("preview.png"), "--out", "-o", help="PNG file to write"),
    n: int = typer.Option(4, "--n", min=1, help="number of samples (rows): the first n of the dataset"),
    set_: List[str] = typer.Option([], "--set", help="dataset parameter key=value (repeatable), e.g. --set n_wells=16"),
) -> None:
    """Write a montage of a few samples: rows are samples, columns their images, channels as RGB."""
    from ..build import load_dataset
    from .preview import write_preview

    name, params = resolve(source)
    params.update(parse_settings(list(set_)))
    ds = load_dataset(name, **params)
    height, width = write_preview(ds, out, n)
    typer.echo(
        f"wrote {out} ({width}x{height} px): {min(n, len(ds))} of {len(ds)} samples, "
        f"{ds.set_size} image(s) each, set axis {ds.set_axis}, channels {', '.join(ds.channels)}"
    )
