"""Plugin discovery, guarded loading, duplicates, blocking, lookup messages."""

import types

import pytest

import core_plugin
from cellxai_core import hookimpl
from cellxai_core.errors import PluginError
from cellxai_core.registry import Registry, registry_with
from cellxai_core.testing import use_plugins


def test_isolated_registry_holds_only_given_plugins():
    with use_plugins(core_plugin) as reg:
        assert reg.names("encoder") == ["test-conv"]
        assert reg.names("clusterer") == ["test-kmeans"]
        entry = reg.get("dataset", "test-blobs")
        assert entry.summary == "Planted growing / shrinking blobs."
        assert entry.target.endswith(":Blobs")
        assert entry.params.__name__ == "BlobsParams"


def test_unknown_name_lists_available_names():
    reg = registry_with([core_plugin])
    with pytest.raises(PluginError, match=r"unknown encoder 'unet'; available: test-conv"):
        reg.get("encoder", "unet")


def _plugin(name: str, encoder_name: str) -> types.SimpleNamespace:
    @hookimpl
    def cellxai_encoders(register):
        register(encoder_name, summary="dup", target="math:sqrt")

    return types.SimpleNamespace(__name__=name, cellxai_encoders=cellxai_encoders)


def test_duplicate_name_is_an_error_naming_both_distributions():
    reg = registry_with([_plugin("dist-one", "same"), _plugin("dist-two", "same")])
    with pytest.raises(PluginError, match="registered twice, by dist-one and dist-two"):
        reg.get("encoder", "same")
    assert [p.status for p in reg.plugins] == ["ok", "error"]
    assert "dist-one" in reg.plugins[1].error and "dist-two" in reg.plugins[1].error


def test_failing_plugin_is_recorded_and_breaks_nothing_else():
    @hookimpl
    def cellxai_encoders(register):
        raise RuntimeError("boom")

    broken = types.SimpleNamespace(__name__="broken", cellxai_encoders=cellxai_encoders)
    reg = registry_with([broken, core_plugin])
    assert reg.plugins[0].status == "error" and "boom" in reg.plugins[0].error
    assert reg.get("encoder", "test-conv").name == "test-conv"
    with pytest.raises(PluginError, match="plugins not loaded: broken .*boom"):
        reg.get("encoder", "missing")


def test_target_import_error_names_the_component():
    @hookimpl
    def cellxai_fusions(register):
        register("ghost", summary="x", target="no_such_module_xyz:Thing")

    reg = registry_with([types.SimpleNamespace(__name__="ghostly", cellxai_fusions=cellxai_fusions)])
    with pytest.raises(PluginError, match="fusion 'ghost' .*failed to import no_such_module_xyz:Thing: ModuleNotFoundError"):
        reg.get("fusion", "ghost").load()


def test_entry_points_are_discovered_and_can_be_blocked(monkeypatch):
    reg = Registry.from_entry_points()
    assert any(p.name == "builtin-datasets" for p in reg.plugins)
    monkeypatch.setenv("CELLXAI_DISABLE_PLUGINS", "builtin-datasets, other")
    blocked = Registry.from_entry_points()
    record = next(p for p in blocked.plugins if p.name == "builtin-datasets")
    assert record.status == "blocked" and record.components == []
    assert not any(r.distribution == "cellxai" for r in blocked.components())


def test_misspelt_hook_implementation_fails_loudly():
    @hookimpl
    def cellxai_encoder(register):  # no such hook: cellxai_encoders
        register("never", summary="x", target="math:sqrt")

    typo = types.SimpleNamespace(__name__="typo-dist", cellxai_encoder=cellxai_encoder)
    reg = registry_with([typo, core_plugin])
    record = next(p for p in reg.plugins if p.name == "typo-dist")
    assert record.status == "error" and "cellxai_encoder" in record.error
    assert reg.names("encoder") == ["test-conv"]  # the others still load


def test_one_plugin_manager_holds_every_plugin():
    reg = registry_with([core_plugin])
    assert reg.manager.is_registered(core_plugin)
    assert [impl.plugin for impl in reg.manager.hook.cellxai_encoders.get_hookimpls()] == [core_plugin]
