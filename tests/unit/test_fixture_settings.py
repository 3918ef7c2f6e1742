"""The settings of fixtures and cassettes: --examples (never by default, make run included), --watch, and
--record-mode (vcrpy's names) on the command line, in DIFY_MOCK_RECORD_MODE and in the config file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from dify_mock.cli.main import main
from dify_mock.config.settings import EXAMPLES, ConfigError, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in list(os.environ):
        if name.startswith("DIFY_MOCK_"):
            monkeypatch.delenv(name)


def test_the_examples_are_loaded_only_when_asked_for(tmp_path, monkeypatch):
    mine = tmp_path / "mine.yaml"
    mine.write_text("llm: []\n")
    assert load_settings({"fixtures": (mine,)}, {}).fixture_paths == (mine,)
    assert load_settings({"fixtures": (mine,), "examples": True}, {}).fixture_paths == (mine, EXAMPLES)
    monkeypatch.setenv("DIFY_MOCK_EXAMPLES", "1")
    assert load_settings({}).fixture_paths == (EXAMPLES,)
    assert EXAMPLES == REPO_ROOT / "fixtures" / "examples.yaml" and EXAMPLES.is_file()


def test_make_run_loads_no_example_rules():
    dry_run = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "run"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    serve = [line for line in dry_run.stdout.splitlines() if "dify-mock serve" in line]
    assert serve and all("fixtures" not in line and "examples" not in line for line in serve), dry_run.stdout
    with_examples = subprocess.run(
        ["make", "-n", "run", "ARGS=--examples"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert any(line.endswith("dify-mock serve --examples") for line in with_examples.stdout.splitlines())


def test_fixture_files_are_watched_unless_told_not_to(monkeypatch):
    assert load_settings({}).watch is True
    assert load_settings({"watch": False}).watch is False
    monkeypatch.setenv("DIFY_MOCK_WATCH", "0")
    assert load_settings({}).watch is False


def test_the_record_mode_comes_from_the_flag_the_environment_or_the_config_file(tmp_path, monkeypatch):
    config = tmp_path / "mock.yaml"
    config.write_text("record_mode: once\n")
    assert load_settings({"record": tmp_path, "config": config}).record_mode == "once"
    monkeypatch.setenv("DIFY_MOCK_RECORD_MODE", "new_episodes")
    assert load_settings({"record": tmp_path, "config": config}).record_mode == "new_episodes"
    assert load_settings({"record": tmp_path, "record_mode": "all"}).record_mode == "all"
    with pytest.raises(ConfigError, match="--record-mode 'rewind': must be one of none, once, new_episodes, all"):
        load_settings({"record_mode": "rewind"}, {})


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--record-mode", "once"], "dify-mock: --record-mode once: give the cassette folder with --record DIR"),
        (["--record-mode", "all", "--replay", "."], "dify-mock: --record-mode all records every call and replays none"),
    ],
)
def test_a_record_mode_without_its_folder_is_one_line(capsys, tmp_path, argv, said):
    status = main(["serve", "--data-dir", str(tmp_path), *argv])
    error = capsys.readouterr().err
    assert status == 2 and error.startswith(said) and error.count("\n") == 1
