"""Fixture files reload while the mock runs (a change on disk, or POST /mock/reload), with the plugin connected all
along; a file with an error keeps the earlier rules and says why in one line. Every rule is named with its file."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO_ROOT, TEST_PLUGINS
from dify_mock.testing import MockServer
from model_caller_calls import result

WAIT_SECONDS = 60
PAGE = REPO_ROOT / "docs" / "reloading.md"


def wait_for(condition, what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.05)


def rule_labels(server: MockServer) -> list[str]:
    response = server.http.get("/mock/rules")
    return [rule["label"] for rule in response.raise_for_status().json()["rules"]]


def rules_file(folder: Path, name: str, text: str) -> Path:
    path = folder / "rules.yaml"
    path.write_text(f"llm:\n  - name: {name}\n    reply: {{text: {text!r}}}\n", encoding="utf-8")
    return path


def assert_on_the_page(log: str, what: str, folder: Path) -> None:
    """The log line saying `what`, as docs/reloading.md shows it (without the clock, the folder left out)."""
    line = next(line for line in log.splitlines() if what in line)
    shown = line.split(" ", 1)[1].replace(f"{folder}/", "")
    assert f"\n{shown}\n" in PAGE.read_text(encoding="utf-8"), shown


def test_an_edited_fixture_file_answers_at_once_and_a_broken_one_keeps_the_old_rules(tmp_path, sdk_python):
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    path = rules_file(fixtures, "first", "one")
    with MockServer(tmp_path / "data", fixtures=[fixtures]) as server:
        plugin = server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)
        registered = server.plugins()
        assert result(server, plugin, "llm", prompt="hi")["text"] == "one"
        entry = server.journal(kind="reverse", type="llm")[-1]
        assert (entry["answered_by"], entry["rule"]) == ("rule:first", f"{path}:2")

        rules_file(fixtures, "second", "two")
        wait_for(lambda: rule_labels(server) == ["second"], "the edited rule to be loaded")
        assert_on_the_page(server.log(), "fixtures reloaded", fixtures)
        assert result(server, plugin, "llm", prompt="hi")["text"] == "two"
        assert server.plugins() == registered  # the same registration: the plugin was never dropped
        assert plugin.alive()

        path.write_text("llm:\n  - name: third\n    reply: {txt: three}\n", encoding="utf-8")
        wait_for(lambda: "fixtures not reloaded" in server.log(), "the broken file to be reported")
        reported = [line for line in server.log().splitlines() if "fixtures not reloaded" in line]
        assert len(reported) == 1
        assert reported[0].endswith(
            f"fixtures not reloaded, the earlier rules stay: {path}:3: llm[0].reply: unknown key 'txt' "
            "(did you mean 'text'?)"
        )
        assert_on_the_page(server.log(), "fixtures not reloaded", fixtures)
        assert rule_labels(server) == ["second"]
        assert result(server, plugin, "llm", prompt="hi")["text"] == "two"

        # POST /mock/reload says the same, and loads the file once it is right.
        refused = server.http.post("/mock/reload")
        assert refused.status_code == 400 and refused.json()["reloaded"] is False
        assert reported[0].endswith(refused.json()["message"])
        assert rule_labels(server) == ["second"]
        assert server.plugins() == registered


def test_post_mock_reload_loads_changes_when_files_are_not_watched(tmp_path, sdk_python):
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    rules_file(fixtures, "first", "one")
    with MockServer(tmp_path / "data", fixtures=[fixtures], extra_args=["--no-watch"]) as server:
        plugin = server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)
        server.http.post("/mock/rules", json={"tool": [{"name": "added", "reply": {"messages": []}}]})
        rules_file(fixtures, "second", "two")
        assert rule_labels(server) == ["first", "added"]  # not watched: nothing changes by itself
        answer = server.http.post("/mock/reload").raise_for_status().json()
        assert answer["reloaded"] is True and answer["message"] == "fixtures reloaded: 1 rule from 1 file"
        assert rule_labels(server) == ["second", "added"]  # the rules added over HTTP stay, after the files'
        assert result(server, plugin, "llm", prompt="hi")["text"] == "two"


def test_the_examples_are_loaded_only_when_asked_for_and_after_your_rules(tmp_path, sdk_python):
    mine = tmp_path / "mine.yaml"
    mine.write_text("llm:\n  - name: weather\n    reply: {text: my own weather}\n", encoding="utf-8")
    with MockServer(tmp_path / "plain", fixtures=[mine]) as server:
        assert "examples.yaml" not in server.log()
        assert {rule["file"] for rule in server.http.get("/mock/rules").json()["rules"]} == {str(mine)}
    examples = REPO_ROOT / "fixtures" / "examples.yaml"
    with MockServer(tmp_path / "examples", fixtures=[mine], extra_args=["--examples"]) as server:
        assert f"    {examples}  (llm: " in server.log()
        plugin = server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)
        answer = result(server, plugin, "llm", prompt="weather in Paris?", with_tools=True)
        assert answer["text"] == "my own weather"  # the example rule of the same name comes after yours
        entry = server.journal(kind="reverse", type="llm")[-1]
        assert (entry["answered_by"], entry["rule"]) == ("rule:weather", f"{mine}:2")
        printed = subprocess.run(
            [sys.executable, "-m", "dify_mock", "journal", "--url", server.url, "--type", "llm"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert f"  rule:weather ({mine}:2)  " in printed
