"""`cellxai --help` and `cellxai plugins list` must not import torch (they stay under 1 s)."""

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision", "sklearn", "zarr", "cv2", "matplotlib")


def _imported(args):
    code = (
        "import sys, json\n"
        "from cellxai_core.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in %r)), file=sys.stderr)\n" % (HEAVY,)
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [["--help"], ["plugins", "list"], ["plugins", "list", "--format", "json"]])
def test_fast_paths_import_no_heavy_library(args):
    heavy = _imported(args)
    assert not {m for m in heavy if m.split(".")[0] == "torch"}, heavy
    assert not heavy, f"{args} imported {sorted(heavy)}"


def test_importing_the_core_imports_no_torch():
    proc = subprocess.run([sys.executable, "-c", "import cellxai_core, sys; print('torch' in sys.modules)"],
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False"
