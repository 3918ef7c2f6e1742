"""The folder loader against the real SDK: for every test plugin, what dify-mock reads from the folder is what the
SDK sends over TCP, key order included; and what it says about folders it cannot read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import TEST_PLUGINS
from dify_mock.plugins.folder import DeclarationError, load_plugin_folder
from sdk_capture import capture_registration, declarations_from

PLUGIN_FOLDERS = sorted(path.parent for path in TEST_PLUGINS.glob("*/manifest.yaml"))


@pytest.mark.parametrize("folder", PLUGIN_FOLDERS, ids=[folder.name for folder in PLUGIN_FOLDERS])
def test_declarations_read_from_the_folder_are_what_the_sdk_sends(folder, sdk_python):
    messages = capture_registration(folder, sdk_python)
    sent = declarations_from(messages)
    loaded = load_plugin_folder(folder)
    ours = {"manifest": loaded.manifest, **loaded.declarations}
    assert ours == sent
    assert json.dumps(ours) == json.dumps(sent)  # the same key order: the identity checksum depends on it
    sent_assets = {message["data"]["filename"] for message in messages if message["type"] == "asset_chunk"}
    assert set(loaded.assets) == sent_assets


def test_the_probe_declares_one_of_everything():
    loaded = load_plugin_folder(TEST_PLUGINS / "declarations_probe")
    assert set(loaded.declarations) == {"tools", "models", "endpoints", "agent_strategies", "datasources", "triggers"}
    search, pick = loaded.declarations["tools"][0]["tools"]
    assert search["has_runtime_parameters"] is True and pick["has_runtime_parameters"] is False
    assert loaded.manifest["label"] == {
        "zh_Hans": "Declarations Probe",
        "pt_BR": "Declarations Probe",
        "ja_JP": "宣言プローブ",
        "en_US": "Declarations Probe",
    }


def broken_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "plugin"
    shutil.copytree(TEST_PLUGINS / "model_caller", folder, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    return folder


def test_a_folder_without_a_manifest(tmp_path):
    with pytest.raises(DeclarationError, match=r"has no manifest\.yaml: it is not a plugin folder"):
        load_plugin_folder(tmp_path)


def test_a_listed_file_that_is_missing(tmp_path):
    folder = broken_copy(tmp_path)
    (folder / "tools" / "llm.yaml").unlink()
    with pytest.raises(DeclarationError) as failure:
        load_plugin_folder(folder)
    assert "tools/llm.yaml (listed as tools[0] in provider/model_caller.yaml): the file does not exist" in str(
        failure.value
    )


def test_bad_yaml_names_its_line(tmp_path):
    folder = broken_copy(tmp_path)
    (folder / "manifest.yaml").write_text("version: 0.0.1\nlabel: [unclosed\n")
    with pytest.raises(DeclarationError, match=r"manifest.yaml:3: not valid YAML"):
        load_plugin_folder(folder)


def test_a_wrong_value_names_its_field(tmp_path):
    folder = broken_copy(tmp_path)
    tool = folder / "tools" / "llm.yaml"
    tool.write_text(tool.read_text().replace("form: llm", "form: sometimes", 1))
    with pytest.raises(DeclarationError) as failure:
        load_plugin_folder(folder)
    assert str(failure.value).startswith("provider/model_caller.yaml: tools.0.parameters.0.form: Input should be")


def test_a_manifest_the_daemon_would_refuse(tmp_path):
    folder = broken_copy(tmp_path)
    manifest = folder / "manifest.yaml"
    manifest.write_text(manifest.read_text().replace("author: dify-mock-tests", "author: Dify-Mock"))
    with pytest.raises(DeclarationError, match="Dify's daemon refuses this manifest: author 'Dify-Mock'"):
        load_plugin_folder(folder)
