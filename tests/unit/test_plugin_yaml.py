"""A plugin's YAML read within bounds (`plugins/plugin_yaml.py`), and model globs matched as the daemon matches them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from dify_mock.plugins.folder import DeclarationError, _matching
from dify_mock.plugins.plugin_yaml import MAX_YAML_NODES, PluginYamlError, expanded_size, parse_bounded


def test_anchors_and_aliases_within_the_budget_are_read() -> None:
    data = parse_bounded("base: &b {type: string, required: true}\nparameters: [*b, *b]\n", "tool.yaml")
    assert data["parameters"] == [{"type": "string", "required": True}] * 2


def test_the_expanded_size_is_counted_without_expanding() -> None:
    text = "a0: &a0 [x, x]\n" + "".join(f"a{n}: &a{n} [*a{n - 1}, *a{n - 1}]\n" for n in range(1, 40))
    node = yaml.compose(text)
    assert expanded_size(node) > MAX_YAML_NODES  # 2**40 nodes once expanded
    with pytest.raises(PluginYamlError, match="billion laughs"):
        parse_bounded(text, "manifest.yaml")


def test_an_alias_inside_its_own_anchor_is_refused_not_looped() -> None:
    with pytest.raises(PluginYamlError, match="billion laughs"):
        parse_bounded("a: &a [1, *a]\n", "manifest.yaml")


def test_a_bad_yaml_file_is_one_line_with_its_line_number() -> None:
    with pytest.raises(PluginYamlError) as raised:
        parse_bounded("a: 1\nb: [\n", "provider/x.yaml")
    assert str(raised.value).startswith("provider/x.yaml:3: not valid YAML") and "\n" not in str(raised.value)


def test_model_globs_match_as_go_filepath_match(tmp_path: Path) -> None:
    for name in ("models/llm/a.yaml", "models/llm/b.yml", "models/llm/deeper/c.yaml", "models/llm/_position.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x: 1\n")
    listed = os.listdir(tmp_path / "models" / "llm")  # matches come in the folder's own order, as the SDK globs them

    def in_folder_order(*paths: str) -> list[str]:
        return sorted(paths, key=lambda path: listed.index(path.rsplit("/", 1)[1]))

    assert _matching(tmp_path, "p.yaml", "llm", "models/llm/*.yaml") == in_folder_order(
        "models/llm/_position.yaml", "models/llm/a.yaml"
    )
    assert _matching(tmp_path, "p.yaml", "llm", "models/llm/[ab].y*") == in_folder_order(
        "models/llm/a.yaml", "models/llm/b.yml"
    )
    assert _matching(tmp_path, "p.yaml", "llm", "models/**/*.yaml") == in_folder_order(
        "models/llm/_position.yaml", "models/llm/a.yaml"
    )
    for climbing in ("../*.yaml", "/etc/*", "models/../../*"):
        with pytest.raises(DeclarationError, match="points outside the plugin folder"):
            _matching(tmp_path, "p.yaml", "llm", climbing)
