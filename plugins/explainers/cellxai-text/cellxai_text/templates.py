"""The sentence templates: a YAML data file, merged over the packaged defaults, and rendering.

A user's file only needs the keys it changes. Every template string is checked when
the file is loaded, so a typo in a key or a placeholder fails before any run starts,
naming the file and the key path.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from cellxai_core.errors import ConfigError

PLACEHOLDERS = ("cell", "word", "value", "cluster", "n", "properties", "ci", "median", "rank")
SECTIONS = ("trend", "density", "comparison")  # "absent" statements go where "density" is
FREE_KEYS = ("cell_types",)  # sections where a user may add keys of their own


def default_templates_text() -> str:
    """The packaged default template file, as text."""
    return resources.files("cellxai_text").joinpath("templates/default.yaml").read_text(encoding="utf-8")


def load_templates(path: str | Path | None = None) -> dict[str, Any]:
    """The default templates, with ``path``'s keys (if given) merged over them."""
    templates = yaml.safe_load(default_templates_text())
    if path is None:
        return templates
    path = Path(path)
    try:
        user = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"template-text templates file {path}: cannot read it ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"template-text templates file {path}: not valid YAML ({_one_line(exc)})") from exc
    if user is None:
        return templates
    if not isinstance(user, dict):
        raise ConfigError(f"template-text templates file {path}: expected a mapping of keys, got {type(user).__name__}")
    merged = _merge(templates, user, path, ())
    _check(merged, path)
    return merged


def _merge(base: dict[str, Any], user: dict[str, Any], path: Path, where: tuple[str, ...]) -> dict[str, Any]:
    out = dict(base)
    for key, value in user.items():
        key = str(key)
        here = (*where, key)
        if key not in base and not (where and where[0] in FREE_KEYS):
            raise ConfigError(
                f"template-text templates file {path}: unknown key '{'.'.join(here)}'; "
                f"expected one of {', '.join(map(str, base))}"
            )
        if isinstance(value, dict):
            if key in base and not isinstance(base[key], dict):
                raise ConfigError(
                    f"template-text templates file {path}: '{'.'.join(here)}' must be a text, not a mapping"
                )
            out[key] = _merge(base.get(key, {}), value, path, here)
        elif isinstance(value, list):
            out[key] = [str(v) for v in value]
        elif value is None:
            out[key] = ""
        else:
            out[key] = str(value)
    return out


def _check(templates: dict[str, Any], path: Path) -> None:
    """Every text formats with the known placeholders; ``order`` names known sections."""
    bad = [s for s in templates.get("order", []) if s not in SECTIONS]
    if bad:
        raise ConfigError(
            f"template-text templates file {path}: 'order' has {bad}; expected entries of {', '.join(SECTIONS)}"
        )
    dummy = {p: "x" for p in PLACEHOLDERS}
    for where, text in _leaves(templates, ()):
        try:
            text.format_map(dummy)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"template-text templates file {path}: '{'.'.join(where)}' = {text!r} is not a valid "
                f"template ({type(exc).__name__}: {exc}); placeholders: "
                + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            ) from exc


def _leaves(node: Any, where: tuple[str, ...]):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, (*where, str(key)))
    elif isinstance(node, str):
        yield where, node


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


# -- rendering ------------------------------------------------------------------------
def cell_name(templates: dict[str, Any], cell_type: str, labels: dict[str, str] | None = None) -> str:
    """Display name of an object class: the templates' ``cell_types``, else the dataset's label
    (the store's ``objects``), else the name with spaces."""
    return templates["cell_types"].get(cell_type) or (labels or {}).get(cell_type) or cell_type.replace("_", " ")


def _pct(x: float) -> str:
    """A signed percentage, one decimal below 10 % so that a small change never reads as "-0%"."""
    return f"{x:+.1%}" if abs(x) < 0.1 else f"{x:+.0%}"


def _numbers(st: dict[str, Any]) -> dict[str, str]:
    """The numbers of a statement as text: trend in % over the course, density in feature units."""
    lo, hi = st.get("ci") or [float("nan")] * 2
    if st["measure"] == "trend":
        return {"value": _pct(st["value"]), "ci": f"{_pct(lo)} to {_pct(hi)}", "median": f"{st['median']:.3g}", "rank": ""}
    return {"value": f"{st['value']:.2f}", "ci": f"{lo:.3g} to {hi:.3g}", "median": f"{st['median']:.3g}",
            "rank": f"{st['value']:.0%}"}


def render_description(templates: dict[str, Any], description: dict[str, Any], labels: dict[str, str] | None = None) -> str:
    """The text of one cluster from its description (see :func:`describe_clusters`); ``labels``: object display names."""
    s = templates["sentences"]
    common = {"cluster": description["cluster"], "n": description["n"]}
    sentences = [_fill(s["header"], common)]
    for section in templates["order"]:
        if section == "comparison":
            sentences.append(_comparison_sentence(templates, description, common, labels))
            continue
        for st in description["statements"]:
            measure = st["measure"]
            if measure == section or (measure == "absent" and section == "density"):
                word = templates["words"].get(measure, {}).get(st["word"], st["word"])
                fields = {**common, "cell": cell_name(templates, st["cell_type"], labels), "word": word, **_numbers(st)}
                sentences.append(_fill(s[measure], fields))
    return s["sentence_joiner"].join(x for x in sentences if x)


def _comparison_sentence(templates: dict[str, Any], description: dict[str, Any], common: dict[str, Any],
                         labels: dict[str, str] | None = None) -> str:
    s = templates["sentences"]
    if not description["comparison"]:
        return _fill(s["only_cluster"], common)
    phrases = []
    for cmp in description["comparison"]:
        phrase = templates["comparison"][cmp["measure"]][cmp["direction"]]
        if isinstance(phrase, dict):  # chosen by the cluster's own trend word
            phrase = phrase[cmp["trend_word"]]
        phrases.append(phrase.format_map({**common, "cell": cell_name(templates, cmp["cell_type"], labels),
                                          "word": cmp["direction"], "value": f"{cmp['score']:.2f}",
                                          "properties": ""}))
    return _fill(s["comparison"], {**common, "properties": s["property_joiner"].join(phrases)})


def _fill(text: str, fields: dict[str, Any]) -> str:
    filled = text.format_map({p: "" for p in PLACEHOLDERS} | fields).strip()
    return filled[:1].upper() + filled[1:]
