"""docs/record-modes.md, run: `@pytest.mark.cassette` and `--record-mode` in a plugin developer's project, against
a live backend (the OpenAI stand-in on loopback) that is then stopped; and the other names of the pytest plugin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT
from openai_standin import StandIn

pytest_plugins = ["pytester"]

PAGE = REPO_ROOT / "docs" / "record-modes.md"
KEY_ENV = "STANDIN_CASSETTE_API_KEY"
KEY = "sk-standin-cassette-9Yq2"


def page_test_file() -> str:
    found = re.search(r"<!-- pytest-example: cassette -->\n```python\n(.*?)```", PAGE.read_text(), re.DOTALL)
    assert found, "docs/record-modes.md has no pytest example"
    return found.group(1).replace('"my_provider", "my_tool"', '"model_caller", "llm"')


def write_config(project: Path, base_url: str) -> None:
    config = {
        "backends": {"standin": {"type": "openai", "base_url": base_url, "api_key_env": KEY_ENV, "timeout": 10}},
        "chain": {"llm": ["fixtures", "replay", "standin", "builtin"]},
    }
    (project / "dify-mock.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")


def prompts(cassette: Path) -> list[str]:
    entries = yaml.safe_load(cassette.read_text(encoding="utf-8"))["entries"]
    return [entry["request"]["prompt_messages"][-1]["content"] for entry in entries]


def test_a_cassette_per_test_recorded_once_replayed_offline_and_extended(user_project, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    project = Path(user_project.path)
    user_project.makepyfile(test_greeting=page_test_file())
    cassette = project / "tests" / "cassettes" / "test_greeting.py_test_greeting.yaml"
    standin = StandIn(api_key_env=KEY_ENV)
    try:
        write_config(project, standin.url)
        user_project.runpytest_subprocess("-p", "no:cacheprovider", "--record-mode", "once").assert_outcomes(passed=1)
        assert prompts(cassette) == ["hello"]
        recorded = cassette.read_text(encoding="utf-8")
        assert KEY not in recorded
    finally:
        standin.stop()

    # Offline, the default mode (none) replays it.
    user_project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
    # A new call: none and once refuse it (once keeps a cassette that exists as it is), with the diff.
    user_project.makepyfile(test_greeting=page_test_file().replace('{"prompt": "hello"}', '{"prompt": "hello again"}'))
    for mode in ("none", "once"):
        refused = user_project.runpytest_subprocess("-p", "no:cacheprovider", "--record-mode", mode)
        refused.assert_outcomes(failed=1)
        refused.stdout.fnmatch_lines(["*no recorded llm call matches this request*"])
    assert cassette.read_text(encoding="utf-8") == recorded

    # new_episodes records it, and keeps what the cassette held.
    standin = StandIn(api_key_env=KEY_ENV)
    try:
        write_config(project, standin.url)
        extended = user_project.runpytest_subprocess("-p", "no:cacheprovider", "--record-mode", "new_episodes")
        extended.assert_outcomes(passed=1)
    finally:
        standin.stop()
    assert prompts(cassette) == ["hello", "hello again"]


def test_a_failing_assert_all_rules_used_is_readable(user_project):
    user_project.makepyfile(
        test_unused="""
        def test_unused(dify_mock):
            dify_mock.add_rules({"moderation": [{"name": "never", "match": {"text": "x"}, "reply": {"flagged": True}}]})
            dify_mock.assert_all_rules_used()
        """
    )
    result = user_project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    shown = PAGE.read_text(encoding="utf-8").split("```text\n")[-1].split("```")[0].splitlines()
    result.stdout.fnmatch_lines([line.replace("[", "[[]") for line in shown])
    output = result.stdout.str()
    assert "{'name'" not in output  # not the raw rule dict
    assert "pytest_plugin.py" not in output  # nor a frame inside dify-mock: the test's own line
    assert "test_unused.py:3: AssertionError" in output


def test_the_old_fixture_name_still_works_with_a_deprecation_warning(user_project):
    user_project.makepyfile(
        test_old_name="""
        def test_old_name(dify_plugin):
            assert dify_plugin.plugin_id == "dify-mock-tests/model_caller"
        """
    )
    result = user_project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*DeprecationWarning: the dify_plugin fixture is now called connected_plugin*"])


@pytest.mark.parametrize("mode", ["bogus"])
def test_a_bad_record_mode_is_one_line(user_project, mode):
    result = user_project.runpytest_subprocess("-p", "no:cacheprovider", "--record-mode", mode)
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*argument --record-mode: invalid choice: 'bogus'*"])
