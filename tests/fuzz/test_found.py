"""What the fuzzers found, pinned as plain examples so each stays fixed without a fuzzing run.

Fixed: a pipeline file that is not UTF-8, or nested deeper than the YAML parser recurses, was
exit 1 (``internal error``); a key with a line break or form feed in it split the one error
line in two; a negative or too large ``seed`` validated and then failed inside numpy /
scikit-learn; in the readers, a manifest row longer than its header, tifffile's log lines before
the one error line, NaN pixels making a whole sample NaN, and TIFF headers of zero width were
exit 1 or misleading. A newly found open bug gets a ``KNOWN_BUGS`` entry in fuzz_support and an
``xfail(strict)`` example here, until it is fixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import yaml

from fuzz_support import BASE, check, cli, dump


def _file(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _refused(*argv: Any) -> str:
    """Run, check the property, and insist on exit 2: the error line."""
    outcome = cli(*argv)
    assert check(outcome, known=False) == "exit 2", outcome
    return outcome.lines()[0]


def test_pipeline_file_that_is_not_utf8(fuzz_registry: Any, tmp_path: Path) -> None:
    line = _refused("validate", _file(tmp_path, dump(BASE).encode("utf-16")))
    assert "pipeline.yaml" in line and "not UTF-8 text" in line


def test_pipeline_file_nested_deeper_than_the_parser_goes(fuzz_registry: Any, tmp_path: Path) -> None:
    line = _refused("validate", _file(tmp_path, "[" * 1110 + "]" * 1110))
    assert "malformed YAML" in line


@pytest.mark.parametrize("key", ["a\x0cb", "line\nbreak", "\u2028", "tab\there"])
def test_unknown_key_with_a_line_break_stays_one_line(fuzz_registry: Any, tmp_path: Path, key: str) -> None:
    config = {**BASE, "explainers": [{"name": "test-sizes", key: 1}]}
    line = _refused("validate", _file(tmp_path, dump(config)))
    assert "unknown key" in line and repr(key)[1:-1] in line


@pytest.mark.parametrize("seed", [-1, 2**32, 10**30])
def test_seed_outside_numpys_range_is_refused_by_validate(fuzz_registry: Any, tmp_path: Path, seed: int) -> None:
    line = _refused("validate", _file(tmp_path, dump({**BASE, "seed": seed})))
    assert "seed" in line


def _folder_run(tmp_path: Path, params: dict[str, Any]) -> Any:
    config = {**BASE, "dataset": {"name": "image-folder", "params": params}, "clusterer": {"name": "test-kmeans", "params": {"n_clusters": 1}}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(config))
    return cli("run", path, "--out", tmp_path / "out")


def test_manifest_row_longer_than_its_header(fuzz_registry: Any, tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((4, 4), np.uint8))
    (tmp_path / "manifest.csv").write_text("sample,path\nA,a.tif,extra\n")
    check(_folder_run(tmp_path, {"path": str(tmp_path / "manifest.csv")}), tmp_path / "out", known=False)


def test_corrupt_tiff_gives_one_line(fuzz_registry: Any, tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((1, 1), np.uint8), metadata={"axes": "YX"}, photometric="minisblack")
    (tmp_path / "a.tif").write_bytes((tmp_path / "a.tif").read_bytes()[:180])  # cut after the tags, before their values
    outcome = _folder_run(tmp_path, {"path": str(tmp_path)})
    assert outcome.code == 2 and len(outcome.lines()) == 1, outcome.err


def test_nan_pixels_give_finite_samples(fuzz_registry: Any, tmp_path: Path) -> None:
    import cellxai_core as cx

    image = np.random.default_rng(0).random((8, 8)).astype(np.float32)
    image[3, 3] = np.nan
    tifffile.imwrite(tmp_path / "a.tif", image)
    assert np.isfinite(cx.load_dataset("image-folder", path=str(tmp_path))[0].images).all()


def _tiff_with_width_zero(path: Path) -> None:
    """A 4 x 4 TIFF whose ImageWidth tag says 0, as one flipped bit in a header can make it."""
    import struct

    tifffile.imwrite(path, np.zeros((4, 4), np.uint8), photometric="minisblack", metadata=None)
    data = bytearray(path.read_bytes())
    ifd = struct.unpack("<I", data[4:8])[0]
    for i in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack("<H", data[entry : entry + 2])[0] == 256:  # ImageWidth
            data[entry + 8 : entry + 12] = bytes(4)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("normalize", ["percentile", "none"])
def test_tiff_of_zero_width_is_refused(fuzz_registry: Any, tmp_path: Path, normalize: str) -> None:
    for name in ("a.tif", "b.tif"):
        _tiff_with_width_zero(tmp_path / name)
    check(_folder_run(tmp_path, {"path": str(tmp_path), "normalize": normalize}), tmp_path / "out", known=False)


def test_huge_chunk_size_does_not_allocate_it(fuzz_registry: Any, tmp_path: Path) -> None:
    """chunk_size 10**8 on six samples made zarr allocate a (10**8, S, D) chunk: 9 GB, OOM-killed; now the chunk is at most N."""
    path = _file(tmp_path, dump({**BASE, "chunk_size": 10**8}))
    assert check(cli("run", path, "--out", tmp_path / "out"), tmp_path / "out", known=False) == "finished runs"
