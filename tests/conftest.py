import copy
import sys
from pathlib import Path

import pytest
import yaml

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))

import core_plugin  # noqa: E402
from cellxai_core.testing import use_plugins  # noqa: E402


@pytest.fixture
def registry():
    """The installed plugins plus the in-process test components."""
    with use_plugins(core_plugin, installed=True) as reg:
        yield reg


@pytest.fixture
def pipeline_file(tmp_path):
    def write(overrides: dict | None = None, text: str | None = None) -> Path:
        path = tmp_path / "pipeline.yaml"
        if text is not None:
            path.write_text(text)
            return path
        data = copy.deepcopy(core_plugin.PIPELINE)
        for key, value in (overrides or {}).items():
            data[key] = value
        path.write_text(yaml.safe_dump(data))
        return path

    return write
