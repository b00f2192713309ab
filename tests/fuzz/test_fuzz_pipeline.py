"""Fuzzing pipeline files: any bytes, any structure, any value, any ``--set``.

Each example goes to ``cellxai validate``; the ones that validate and stay cheap (the core's
fast test components on a few small samples) also go to ``cellxai run``. Why both: validate
is where a bad file should be caught, and run is where a value that slipped through
(a huge seed, a chunk size past int64, Unicode in a name) would turn into a traceback.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import BASE, ODD_TEXT, budget, check, cli, dump, junk, keys, scalars

TEST_COMPONENTS = {"dataset": "test-blobs", "encoder": "test-conv", "fusion": "test-delta", "clusterer": "test-kmeans"}
CHEAP_EXPLAINERS = {"test-sizes", "cluster-similarity"}
TOP_KEYS = ["seed", "device", "task", "batch_size", "chunk_size", "threads", "report", "quality", "explainers",
            "dataset", "encoder", "fusion", "clusterer", "executor", "classify", "uncertainty"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder for the examples' files; each example makes and removes its own subfolder."""
    yield tmp_path_factory.mktemp("fuzz-pipeline")


def component_names(registry: Any) -> list[str]:
    """Every registered name of every kind: a name of the wrong kind is a good mistake to make."""
    return sorted({r.name for r in registry.components()})


def runnable(path: Path, overrides: list[str]) -> bool:
    """Whether a validated file is cheap enough to run here: test components, few small samples.

    The one known exit 1 of the test components is left out on purpose: scikit-learn's k-means
    with more clusters than samples is tests/test_pipeline.py's deliberately failing stage.
    """
    from cellxai_core.config import load_config

    cfg, params = load_config(path, overrides)
    p = {k: v.model_dump() for k, v in params.items()}
    if cfg.task != "cluster" or cfg.device not in ("cpu", "auto") or (cfg.threads or 1) > 4 or cfg.report:
        return False
    if any(getattr(cfg, kind) is None or getattr(cfg, kind).name != name for kind, name in TEST_COMPONENTS.items()):
        return False
    if not {e.name for e in cfg.explainers} <= CHEAP_EXPLAINERS:
        return False
    data, enc = p["dataset"], p["encoder"]
    return data["n"] <= 12 and data["size"] <= 24 and enc["width"] <= 16 and enc["delay"] == 0 and p["clusterer"]["n_clusters"] <= data["n"]


def validate_then_run(folder: Path, text: str | bytes, overrides: tuple[str, ...] | list[str] = ()) -> str:
    """Write the file, validate it, run it when it validates and is cheap; check every outcome."""
    folder.mkdir(parents=True)
    try:
        path = folder / "pipeline.yaml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        sets = [a for o in overrides for a in ("--set", o)]
        end = check(cli("validate", path, *sets))
        if end == "valid" and runnable(path, list(overrides)):
            end = check(cli("run", path, "--out", folder / "out", *sets), folder / "out")
        return end
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _folder(scratch: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=scratch)) / "case"


# -- any text ---------------------------------------------------------------------------------
def truncated_base() -> st.SearchStrategy[str]:
    """The valid file cut anywhere, or with one character put in anywhere: YAML's edge cases."""
    text = dump(BASE)
    cut = st.integers(0, len(text)).map(lambda i: text[:i])
    insert = st.tuples(st.integers(0, len(text)), st.sampled_from(list(":-[]{}&*!|>'\"%@`#,?\t\n ") + ODD_TEXT[:6]))
    return cut | insert.map(lambda p: text[: p[0]] + p[1] + text[p[0]:])


def any_text() -> st.SearchStrategy[str | bytes]:
    return st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200),
        junk().map(dump),
        truncated_base(),
        st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),  # deep nesting
        st.integers(1, 3000).map(lambda n: "a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, n))),
        st.just("a: &a [1, 2]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"),
        st.just(dump(BASE).encode("utf-16")),
        st.just(b"\xff\xfe" + dump(BASE).encode()),
    )


@budget(ci=70, fuzz=2500)
@given(text=any_text())
def test_any_text_as_a_pipeline_file(fuzz_registry: Any, scratch: Path, text: str | bytes) -> None:
    validate_then_run(_folder(scratch), text)


# -- any structure ----------------------------------------------------------------------------
def _containers(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path, container) for every mapping and list in the config tree."""
    if isinstance(node, (dict, list)):
        yield path, node
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            yield from _containers(value, (*path, key))


def plausible(names: list[str]) -> st.SearchStrategy[Any]:
    """Values near what a user would write: small and boundary ints, registered names, junk."""
    return st.one_of(st.integers(-2, 40), st.sampled_from(names), scalars(), junk())


@st.composite
def mutated(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    """The small valid file after one to four edits: a value replaced, a key removed or added,
    a component renamed, an explainer appended, a param of the component set."""
    data: Any = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        containers = list(_containers(data))
        if not containers:  # the root was replaced by a scalar: nothing left to edit
            break
        path, node = draw(st.sampled_from(containers))
        action = draw(st.sampled_from(["set", "set", "delete", "add", "rename", "explainer", "top", "replace-root"]))
        if action in ("set", "delete") and node:
            key = draw(st.sampled_from(list(node) if isinstance(node, dict) else list(range(len(node)))))
            if action == "delete":
                del node[key]
            else:
                node[key] = draw(plausible(names))
        elif action == "add" and isinstance(node, dict):
            node[draw(keys() | st.sampled_from(["params", "name", "n", "size", "width", "delay", "n_clusters", "path"]))] = draw(plausible(names))
        elif action == "rename" and isinstance(node, dict) and "name" in node:
            node["name"] = draw(st.sampled_from(names) | st.text(max_size=12))
        elif action == "explainer" and isinstance(data, dict) and isinstance(data.get("explainers"), list):
            data["explainers"].append({"name": draw(st.sampled_from(names))})
        elif action == "top" and isinstance(data, dict):
            data[draw(st.sampled_from(TOP_KEYS))] = draw(plausible(names))
        elif action == "replace-root" and draw(st.integers(0, 9)) == 0:
            data = draw(junk())
    return data


@budget(ci=90, fuzz=3500)
@given(data=st.data())
def test_any_structure_and_value(fuzz_registry: Any, scratch: Path, data: st.DataObject) -> None:
    config = data.draw(mutated(component_names(fuzz_registry)), label="config")
    validate_then_run(_folder(scratch), dump(config))


# -- any --set --------------------------------------------------------------------------------
def set_keys() -> st.SearchStrategy[str]:
    known = ["seed", "batch_size", "chunk_size", "threads", "device", "task", "report", "quality", "dataset.name",
             "dataset.params.n", "dataset.params.size", "dataset.params.seed", "dataset.params.path", "encoder.name",
             "encoder.params.width", "encoder.params.delay", "clusterer.name", "clusterer.params.n_clusters",
             "clusterer.params.random_state", "explainers.0.name", "explainers.1.name", "explainers", "fusion.params",
             "seed.x", "explainers.x", "dataset..params", ".", "params.", "encoder.params.width.x"]
    return st.sampled_from(known) | st.text(max_size=15)


@budget(ci=50, fuzz=2000)
@given(sets=st.lists(st.tuples(set_keys(), st.one_of(st.text(max_size=15), scalars().map(lambda v: dump(v).strip()))),
                     max_size=3), plain=st.lists(st.text(max_size=10), max_size=1))
def test_any_set_override(fuzz_registry: Any, scratch: Path, sets: list[tuple[str, str]], plain: list[str]) -> None:
    overrides = [f"{key}={value}" for key, value in sets] + plain
    if any("\x00" in o for o in overrides):  # a NUL cannot be in a command-line argument
        return
    validate_then_run(_folder(scratch), dump(BASE), overrides)
