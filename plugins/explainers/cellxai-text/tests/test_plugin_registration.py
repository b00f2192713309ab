"""The plugin registers both explainers, cheaply, with params that validate."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

import cellxai_text.plugin as plugin
from cellxai_core.testing import use_plugins
from cellxai_text.params import ClusterSimilarityParams, TemplateTextParams


def test_both_explainers_register_and_build():
    with use_plugins(plugin) as reg:
        assert reg.names("explainer") == ["cluster-similarity", "template-text"]
        text = reg.get("explainer", "template-text")
        built = text.load()(**text.params(trend_threshold=0.1).model_dump())
        assert built.thresholds.trend_threshold == 0.1
        assert tuple(built.tasks) == ("cluster",)
        sim = reg.get("explainer", "cluster-similarity")
        assert sim.load()(**sim.params().model_dump()).max_members == 200


def test_importing_the_plugin_is_cheap():
    code = "import sys, cellxai_text.plugin; print(sorted(m for m in ('torch', 'sklearn', 'scipy', 'yaml') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_params_reject_bad_values():
    with pytest.raises(ValidationError, match="density_low_quantile"):
        TemplateTextParams(density_low_quantile=0.5, density_high_quantile=0.5)
    with pytest.raises(ValidationError):
        TemplateTextParams(trend_threshold=0)
    with pytest.raises(ValidationError):
        TemplateTextParams(treshold=0.1)  # unknown key
    with pytest.raises(ValidationError):
        ClusterSimilarityParams(max_members=1)
    assert TemplateTextParams().model_dump()["density_high_quantile"] == 0.67
