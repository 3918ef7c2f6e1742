"""The config file: the fixed `backends:`/`chain:` format, and errors that name the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from dify_mock.cli.main import main
from dify_mock.config.file import DEFAULT_CHAIN, ConfigFileError, load_config_file

EXAMPLE = """\
backends:
  local:
    type: openai                      # OpenAI-compatible
    base_url: http://127.0.0.1:11434/v1
    api_key_env: LOCAL_LLM_KEY        # optional; the name of a variable, never the key
    models: {gpt-4o-mini: llama3.2}   # optional model-name mapping
chain:                                # per model type; types left out keep the default chain
  llm: [fixtures, replay, local, builtin]
  text_embedding: [fixtures, local, builtin]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dify-mock.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_issue_example_loads(tmp_path):
    config = load_config_file(write(tmp_path, EXAMPLE))
    assert config.backends["local"].models == {"gpt-4o-mini": "llama3.2"}
    assert config.chain_for("llm") == ("fixtures", "replay", "local", "builtin")
    assert config.chain_for("llm_structured_output") == ("fixtures", "replay", "local", "builtin")  # follows llm
    assert config.chain_for("rerank") == DEFAULT_CHAIN
    assert load_config_file(write(tmp_path, "")).chain_for("llm") == DEFAULT_CHAIN


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            EXAMPLE.replace("api_key_env: LOCAL_LLM_KEY", "api_key: sk-live-abc123"),
            ":5: backends.local: unknown key 'api_key': never write a key in a file",
        ),
        (
            EXAMPLE.replace("[fixtures, local, builtin]", "[fixtures, locl, builtin]"),
            "unknown link 'locl' (did you mean 'local'?)",
        ),
        (
            EXAMPLE.replace("text_embedding:", "text_embeding:"),
            "unknown model type 'text_embeding' (did you mean 'text_embedding'?)",
        ),
        (EXAMPLE + "  system_summary: [local, builtin]\n", "backend 'local' cannot serve system_summary"),
        (EXAMPLE.replace("type: openai", "type: anthropic"), ":3: backends.local.type: Input should be 'openai'"),
        (
            EXAMPLE.replace("  local:", "  builtin:").replace("local,", "builtin,"),
            "a backend cannot be called 'builtin'",
        ),
        (EXAMPLE.replace("[fixtures, local, builtin]", "[local, local]"), "'local' is listed twice"),
        ("backends: [\n", ":2: YAML syntax error"),
    ],
    ids=[
        "api-key-in-file",
        "unknown-link",
        "unknown-type",
        "cannot-serve",
        "unknown-backend-type",
        "reserved-name",
        "twice",
        "yaml",
    ],
)
def test_problems_are_named_with_file_and_line(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigFileError) as failure:
        load_config_file(path)
    assert str(path) in str(failure.value) and expected in str(failure.value)
    assert "sk-live-abc123" not in str(failure.value)


def test_a_key_pasted_as_the_variable_name_is_refused_without_showing_it(tmp_path):
    path = write(tmp_path, EXAMPLE.replace("LOCAL_LLM_KEY", "sk-proj-Abc/123+xyz"))
    with pytest.raises(ConfigFileError, match="must be the NAME of an environment variable") as failure:
        load_config_file(path)
    assert "sk-proj-Abc/123+xyz" not in str(failure.value)


def test_serve_refuses_a_bad_config_file_before_starting(tmp_path, capsys):
    path = write(tmp_path, EXAMPLE.replace("locl", "x").replace("[fixtures, local, builtin]", "[nowhere]"))
    assert main(["serve", "--config", str(path), "--data-dir", str(tmp_path / "data")]) == 2
    assert "unknown link 'nowhere'" in capsys.readouterr().err
    assert main(["serve", "--replay", str(tmp_path / "missing"), "--data-dir", str(tmp_path / "data")]) == 2
    assert "no such folder of cassettes" in capsys.readouterr().err
