"""Registration: three explainers, cheap to import, params that validate and build."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

import cellxai_gradcam.plugin as plugin
from cellxai_core.testing import use_plugins
from cellxai_gradcam.params import GmeanParams, GradCAMParams


def test_explainers_register_and_build():
    with use_plugins(plugin) as reg:
        assert reg.names("explainer") == ["faithfulness", "gmean", "gradcam"]
        for name, after in (("gradcam", ()), ("gmean", ("gradcam",)), ("faithfulness", ("gradcam",))):
            entry = reg.get("explainer", name)
            built = entry.load()(**entry.params().model_dump())
            assert tuple(built.after) == after and set(built.tasks) == {"cluster", "classify"}
            assert entry.params.model_json_schema()["additionalProperties"] is False


def test_importing_the_plugin_and_package_is_cheap():
    code = (
        "import sys, cellxai_gradcam, cellxai_gradcam.plugin, cellxai_gradcam.params; "
        "print(sorted(m for m in ('torch', 'torchvision', 'scipy', 'cv2', 'zarr') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_params_reject_bad_values():
    with pytest.raises(ValidationError):
        GradCAMParams(target="own")
    with pytest.raises(ValidationError):
        GradCAMParams(n_sampels=3)  # unknown key
    with pytest.raises(ValidationError):
        GmeanParams(epsilon=0)
    with pytest.raises(ValidationError):
        GmeanParams(threshold=1.0)
    assert GmeanParams().radius == 2 and GradCAMParams().deletion_baseline == "zero"
