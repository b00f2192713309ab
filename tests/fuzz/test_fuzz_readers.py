"""Fuzzing the file readers through ``cellxai run``: ``image-folder`` (plain folder, CSV manifest,
file-name pattern) and ``tiff-stack`` on generated files, some intact, some broken.

Why through the whole run and not the reader alone: a reader that hands on NaN or a wrong
shape does not fail itself, the encoder or the clusterer after it does, with a traceback
and a run directory left behind; only the end of the run shows whether the bad file was
turned into one line naming it.
"""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fuzz_support import budget, check, cli, junk, scalars
from images import TIFF_DTYPES, corrupted, image_file, pixels, sizes, stems, tiff_bytes


SCRATCH = "fuzz-readers"


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp(SCRATCH)


def pipeline(dataset: str, params: dict[str, Any]) -> dict[str, Any]:
    """The core's fast test components on the reader's samples; one cluster, so a single sample runs too."""
    return {
        "seed": 0, "device": "cpu", "task": "cluster", "batch_size": 4, "chunk_size": 4, "threads": 1, "quality": False,
        "dataset": {"name": dataset, "params": params},
        "encoder": {"name": "test-conv", "params": {"width": 4}}, "fusion": {"name": "test-delta"},
        "clusterer": {"name": "test-kmeans", "params": {"n_clusters": 1}}, "explainers": [{"name": "test-sizes"}],
    }


def run_on(case: Path, dataset: str, params: dict[str, Any]) -> str:
    """Write the pipeline next to the data, run it, check the property, clean up."""
    base = next(p for p in (case, *case.parents) if p.parent.name.startswith(SCRATCH))
    try:
        path = case / "pipeline.yaml"
        path.write_text(yaml.safe_dump(pipeline(dataset, params), allow_unicode=True), encoding="utf-8")
        return check(cli("run", path, "--out", case / "out"), case / "out")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@st.composite
def folder(draw: st.DrawFn, scratch: Path) -> Path:
    """A new folder under an odd name, sometimes nested deep enough for a path of ~1,000 characters."""
    base = Path(tempfile.mkdtemp(dir=scratch))
    depth = draw(st.sampled_from([0, 0, 0, 1, 5]))
    case = base.joinpath(*[draw(stems()) for _ in range(depth)], draw(stems()))
    case.mkdir(parents=True, exist_ok=True)
    return base if case == base else case


def intensity(draw: st.DrawFn) -> dict[str, Any]:
    """The readers' shared options: normalisation, resize, crop, channel naming (sometimes wrong)."""
    out: dict[str, Any] = {"normalize": draw(st.sampled_from(["percentile", "dtype", "none"]))}
    if draw(st.booleans()):
        out["resize"] = draw(st.sampled_from([8, [6, 10], 1]))
    if draw(st.integers(0, 4)) == 0:
        out["crop"] = draw(st.sampled_from([4, [2, 30], 1]))
    if draw(st.integers(0, 5)) == 0:
        out["channels"] = draw(st.lists(st.text(max_size=4), min_size=1, max_size=3))
    if draw(st.integers(0, 7)) == 0:
        out["percentiles"] = draw(st.sampled_from([[0, 100], [50, 50.5], [0.0, 1e-9]]))
    return out


def write(path: Path, data: bytes) -> bool:
    """Write one file; False when the name is one the file system refuses (that is not the reader's case)."""
    try:
        path.write_bytes(data)
        return True
    except OSError:
        return False


# -- image-folder: one file per sample -----------------------------------------------------------
@budget(ci=30, fuzz=700)
@given(data=st.data())
def test_image_folder_plain(fuzz_registry: Any, scratch: Path, data: st.DataObject) -> None:
    case = data.draw(folder(scratch))
    shape = data.draw(sizes())
    for _ in range(data.draw(st.integers(1, 4))):
        size = shape if data.draw(st.integers(0, 4)) else data.draw(sizes())
        content, suffix = data.draw(image_file(*size))
        write(case / (data.draw(stems()) + suffix), content)
    params = {"path": str(case), **intensity(data.draw)}
    if data.draw(st.integers(0, 4)) == 0:
        params["set_axis"] = data.draw(st.sampled_from(["time", "channel", "image"]))
    run_on(case, "image-folder", params)


# -- image-folder: CSV manifest ------------------------------------------------------------------
MANIFEST_COLUMNS = ["sample", "path", "time", "channel", "class", "Metadata_plate", "Metadata_dose", " sample ", "extra"]


@st.composite
def manifest(draw: st.DrawFn, files: list[str]) -> bytes:
    """A manifest of ``files``: columns missing or doubled, values of the wrong type, rows that point nowhere."""
    columns = draw(st.lists(st.sampled_from(MANIFEST_COLUMNS), min_size=0, max_size=6, unique=True))
    if draw(st.integers(0, 3)):
        columns = ["sample", "path", *[c for c in columns if c not in ("sample", "path")]]
    samples = draw(st.lists(st.text(max_size=6) | st.sampled_from(["A1", "A2", "B1"]), min_size=1, max_size=3))
    rows = []
    for i, name in enumerate(files):
        value = {
            "sample": draw(st.sampled_from(samples)), "time": draw(st.sampled_from([str(i), str(i % 2), "x", "", "1.5"])),
            "path": name if draw(st.integers(0, 6)) else draw(st.sampled_from(["missing.tif", "", "/", "..", name + " "])),
            "channel": draw(st.sampled_from(["dapi", "gfp", str(i), ""])), "class": draw(st.sampled_from(["a", "b", ""])),
        }
        rows.append([value.get(c.strip(), str(draw(scalars()))) for c in columns])
    text = io.StringIO()
    csv.writer(text).writerows([columns, *rows])
    raw = text.getvalue().encode("utf-8", "surrogatepass")
    how = draw(st.sampled_from(["utf-8", "utf-8", "bom", "latin-1", "junk"]))
    if how == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif how == "latin-1":
        raw = raw.replace(b"a", b"\xe9")
    elif how == "junk":
        raw = draw(corrupted(raw)) + str(draw(junk())).encode()
    return raw


@budget(ci=30, fuzz=700)
@given(data=st.data())
def test_image_folder_manifest(fuzz_registry: Any, scratch: Path, data: st.DataObject) -> None:
    case = data.draw(folder(scratch))
    shape = data.draw(sizes())
    names = []
    for _ in range(data.draw(st.integers(1, 6))):
        content, suffix = data.draw(image_file(*shape))
        name = data.draw(stems()) + suffix
        if write(case / name, content):
            names.append(name)
    manifest_name = data.draw(st.sampled_from(["manifest.csv", "list.csv", "m.CSV"]))
    write(case / manifest_name, data.draw(manifest(names)))
    at_folder = manifest_name == "manifest.csv" and data.draw(st.booleans())
    params = {"path": str(case if at_folder else case / manifest_name), **intensity(data.draw)}
    if data.draw(st.integers(0, 3)) == 0:
        params["set_axis"] = data.draw(st.sampled_from(["time", "channel", "image"]))
    run_on(case, "image-folder", params)


# -- image-folder: file-name pattern -------------------------------------------------------------
@budget(ci=20, fuzz=600)
@given(data=st.data())
def test_image_folder_pattern(fuzz_registry: Any, scratch: Path, data: st.DataObject) -> None:
    case = data.draw(folder(scratch))
    shape = data.draw(sizes())
    wells = data.draw(st.lists(stems(), min_size=1, max_size=2, unique=True))
    days = data.draw(st.lists(st.sampled_from(["1", "2", "10", "x", "01"]), min_size=1, max_size=3, unique=True))
    suffix = data.draw(st.sampled_from([".tif", ".png"]))
    for well in wells:
        for day in days:
            content, _ = data.draw(image_file(*shape))
            write(case / f"{well}_{day}{suffix}", content)
    pattern = data.draw(st.sampled_from(["{well}_{day}", "{well}_{day:d}", "{sample}_{t}", "{well}_{channel}", "{a}_{a}", "{well}"]))
    params = {"path": str(case), "pattern": pattern + data.draw(st.sampled_from([suffix, ".tif", ""])), **intensity(data.draw)}
    run_on(case, "image-folder", params)


# -- tiff-stack ----------------------------------------------------------------------------------
@st.composite
def movie(draw: st.DrawFn) -> bytes:
    """A multi-page TIFF time-lapse: frames x [channels] x H x W in any dtype, axes named or not."""
    height, width = draw(sizes())
    frames, channels = draw(st.integers(1, 8)), draw(st.integers(1, 3))
    axes = draw(st.sampled_from(["TYX", "TCYX", "CTYX", "ZYX", "QYX", "TZYX", "YX", "TCZYX", None]))
    shape = {"T": frames, "C": channels, "Z": 2, "Q": frames, "Y": height, "X": width}
    dims = tuple(shape[a] for a in (axes or "TYX"))
    dtype = draw(st.sampled_from(TIFF_DTYPES))
    data = pixels(draw, dims, dtype)
    return draw(corrupted(tiff_bytes(data, axes, ome=draw(st.booleans()) and dtype not in ("bool", "float16") and axes is not None)))


@budget(ci=30, fuzz=1000)
@given(data=st.data())
def test_tiff_stack(fuzz_registry: Any, scratch: Path, data: st.DataObject) -> None:
    case = data.draw(folder(scratch))
    path = case / (data.draw(stems()) + data.draw(st.sampled_from([".tif", ".ome.tif", ".tiff", ".png"])))
    if not write(path, data.draw(movie())):
        path = case / "movie.tif"
        write(path, data.draw(movie()))
    params: dict[str, Any] = {"path": str(path), **intensity(data.draw)}
    params["frames"] = data.draw(st.integers(1, 6))
    if data.draw(st.booleans()):
        params["tile"] = data.draw(st.sampled_from([1, 4, 8, [3, 5], 30]))
    if data.draw(st.integers(0, 3)) == 0:
        params["stride"] = data.draw(st.sampled_from([1, 2, 7, [1, 9]]))
    if data.draw(st.integers(0, 3)) == 0:
        params["windows"] = data.draw(st.integers(1, 3))
    if data.draw(st.integers(0, 4)) == 0:
        params["frame_indices"] = data.draw(st.lists(st.integers(-2, 9), max_size=4))
    run_on(case, "tiff-stack", params)
