"""User errors: exit code 2, one line on stderr naming what and where, nothing that looks complete."""



from cellxai_core.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_user_error(code, err, *needles):
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def _not_complete(out_dir):
    return not (out_dir / "results.csv").exists()


def test_malformed_yaml(registry, pipeline_file, tmp_path, capsys):
    path = pipeline_file(text="seed: 0\ndataset: {name: test-blobs\n  params: [\n")
    code, _, err = _run(capsys, "run", str(path), "--out", str(tmp_path / "o"))
    _assert_user_error(code, err, str(path), "malformed YAML", "line")
    assert not (tmp_path / "o").exists()


def test_unknown_top_level_key(registry, pipeline_file, tmp_path, capsys):
    path = pipeline_file({"sede": 3})
    code, _, err = _run(capsys, "validate", str(path))
    _assert_user_error(code, err, str(path), "sede", "unknown key")


def test_unknown_plugin_lists_available(registry, pipeline_file, capsys):
    path = pipeline_file({"encoder": {"name": "nope"}})
    code, _, err = _run(capsys, "validate", str(path))
    _assert_user_error(code, err, str(path), "encoder.name", "unknown encoder 'nope'", "test-conv")


def test_wrong_param_type(registry, pipeline_file, capsys):
    path = pipeline_file({"encoder": {"name": "test-conv", "params": {"width": "wide"}}})
    code, _, err = _run(capsys, "validate", str(path))
    _assert_user_error(code, err, str(path), "encoder.params.width", "integer", "'wide'")


def test_unknown_param(registry, pipeline_file, capsys):
    path = pipeline_file({"encoder": {"name": "test-conv", "params": {"widht": 3}}})
    code, _, err = _run(capsys, "validate", str(path))
    _assert_user_error(code, err, "encoder.params.widht", "unknown parameter", "width")


def test_set_override_is_parsed_to_the_field_type(registry, pipeline_file, capsys):
    path = pipeline_file()
    code, out, _ = _run(capsys, "validate", str(path), "--set", "encoder.params.width=12", "--set", "seed=5")
    assert code == 0 and "valid" in out
    from cellxai_core.config import load_config

    cfg, params = load_config(path, ["encoder.params.width=12", "seed=5"])
    assert params["encoder"].width == 12 and cfg.seed == 5
    assert params["dataset"].seed == 5  # the run seed reaches components that have one
    code, _, err = _run(capsys, "validate", str(path), "--set", "batch_size=many")
    _assert_user_error(code, err, "batch_size", "integer")


def test_missing_dataset_path(registry, pipeline_file, tmp_path, capsys):
    missing = tmp_path / "no-such-folder"
    path = pipeline_file({"dataset": {"name": "test-blobs", "params": {"path": str(missing)}}})
    code, _, err = _run(capsys, "run", str(path), "--out", str(tmp_path / "o"))
    _assert_user_error(code, err, str(missing), "does not exist")
    assert not (tmp_path / "o").exists()


def test_existing_output_needs_resume_or_overwrite(registry, pipeline_file, tmp_path, capsys):
    out = tmp_path / "o"
    out.mkdir()
    (out / "something").write_text("x")
    code, _, err = _run(capsys, "run", str(pipeline_file()), "--out", str(out))
    _assert_user_error(code, err, str(out), "--resume", "--overwrite")
    assert (out / "something").exists()


def test_resume_with_changed_config_is_refused(registry, pipeline_file, tmp_path, capsys):
    out = tmp_path / "o"
    assert _run(capsys, "run", str(pipeline_file()), "--out", str(out))[0] == 0
    code, _, err = _run(capsys, "run", str(pipeline_file()), "--out", str(out), "--resume", "--set", "encoder.params.width=4")
    _assert_user_error(code, err, "--resume with a different config", "encoder.params.width", "was 8, now 4")
    code, _, _ = _run(capsys, "run", str(pipeline_file()), "--out", str(out), "--resume")
    assert code == 0


def test_resume_of_a_run_killed_before_its_store_starts_it(registry, pipeline_file, tmp_path, capsys):
    import shutil

    out = tmp_path / "o"
    assert _run(capsys, "run", str(pipeline_file()), "--out", str(out))[0] == 0
    shutil.rmtree(out / "store.zarr")  # as SIGKILL right after config.yaml was written leaves it
    (out / "results.csv").unlink()
    code, _, err = _run(capsys, "run", str(pipeline_file()), "--out", str(out), "--resume", "--set", "encoder.params.width=4")
    _assert_user_error(code, err, "--resume with a different config")
    assert _run(capsys, "run", str(pipeline_file()), "--out", str(out), "--resume")[0] == 0
    assert (out / "results.csv").exists() and (out / "store.zarr").is_dir()
    (out / "config.yaml").unlink()
    code, _, err = _run(capsys, "run", str(pipeline_file()), "--out", str(out), "--resume")
    _assert_user_error(code, err, "not a cellxai run directory (no config.yaml)")


def test_plugin_whose_import_fails(registry, pipeline_file, tmp_path, capsys):
    import types

    from cellxai_core import hookimpl
    from cellxai_core.registry import PluginRecord

    @hookimpl
    def cellxai_fusions(register):
        register("broken-fusion", summary="x", target="cellxai_missing_module_xyz:Fusion")

    registry.add_plugin(types.SimpleNamespace(cellxai_fusions=cellxai_fusions), PluginRecord("broken", "cellxai-broken", "1.0"))
    path = pipeline_file({"fusion": {"name": "broken-fusion"}})
    code, _, err = _run(capsys, "run", str(path), "--out", str(tmp_path / "o"))
    _assert_user_error(code, err, "fusion 'broken-fusion'", "cellxai-broken", "ModuleNotFoundError")
    assert _not_complete(tmp_path / "o")


def test_plugins_list_json_and_kind(registry, capsys):
    import json

    code, out, _ = _run(capsys, "plugins", "list", "--format", "json", "--kind", "encoder")
    rows = json.loads(out)
    assert code == 0 and {"test-conv"} <= {r["name"] for r in rows}
    assert all(r["kind"] == "encoder" for r in rows)
    assert set(rows[0]) >= {"name", "kind", "summary", "distribution", "version", "status"}
    code, _, err = _run(capsys, "plugins", "list", "--kind", "thing")
    _assert_user_error(code, err, "--kind", "thing")


def test_schema_includes_plugin_params(registry, capsys):
    import json

    code, out, _ = _run(capsys, "schema")
    schema = json.loads(out)
    encoders = schema["properties"]["encoder"]["anyOf"]
    conv = next(e for e in encoders if e["properties"]["name"]["const"] == "test-conv")
    assert conv["properties"]["params"]["properties"]["width"]["type"] == "integer"
    assert schema["additionalProperties"] is False


def test_validate_imports_every_target_so_a_broken_plugin_fails_there(registry, pipeline_file, capsys):
    import types

    from cellxai_core import hookimpl
    from cellxai_core.registry import PluginRecord

    @hookimpl
    def cellxai_encoders(register):
        register("ghost-encoder", summary="lists fine, cannot import", target="cellxai_missing_module_xyz:Encoder")

    registry.add_plugin(types.SimpleNamespace(cellxai_encoders=cellxai_encoders), PluginRecord("ghost", "cellxai-ghost", "1.0"))
    code, out, _ = _run(capsys, "plugins", "list", "--kind", "encoder")
    assert code == 0 and "ghost-encoder" in out
    code, _, err = _run(capsys, "validate", str(pipeline_file({"encoder": {"name": "ghost-encoder"}})))
    _assert_user_error(code, err, "encoder 'ghost-encoder'", "cellxai-ghost", "ModuleNotFoundError")


def test_set_component_name_starts_from_that_components_defaults():
    from cellxai_core.config import apply_overrides

    data = {"encoder": {"name": "unet", "params": {"base_channels": 16}}}
    assert apply_overrides(data, ["encoder.name=unet"], "f")["encoder"]["params"] == {"base_channels": 16}
    assert "params" not in apply_overrides(data, ["encoder.name=intensity-histogram"], "f")["encoder"]
    both = apply_overrides(data, ["encoder.name=intensity-histogram", "encoder.params.bins=8"], "f")
    assert both["encoder"] == {"name": "intensity-histogram", "params": {"bins": 8}}


def test_version(capsys):
    import cellxai_core

    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.strip() == f"cellxai {cellxai_core.__version__}"


def test_explain_prints_a_summary_or_the_full_record(registry, pipeline_file, tmp_path, capsys):
    import json

    out = tmp_path / "r"
    code, printed, _ = _run(capsys, "run", str(pipeline_file()), "--out", str(out))
    assert code == 0 and "open results.csv" in printed
    code, printed, _ = _run(capsys, "explain", str(out), "test-sizes")
    lines = printed.strip().splitlines()
    assert code == 0 and lines[0] == f"{out}: explanations/test-sizes written" and len(lines) <= 21
    code, printed, _ = _run(capsys, "explain", str(out), "test-sizes", "--format", "json")
    assert code == 0 and isinstance(json.loads(printed), dict)
