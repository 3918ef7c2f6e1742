"""docs/replies.md, run: replies templated from the request, rules limited to N uses, rules that fail N times and
then answer. The fixture examples are read from the page itself, so that the page cannot drift."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, TEST_PLUGINS
from dify_mock.answers.rules import FixtureError, RuleBook
from dify_mock.testing import MockServer, PluginError
from model_caller_calls import result

PAGE = REPO_ROOT / "docs" / "replies.md"


def page_fixture(name: str) -> str:
    """The YAML block after `<!-- fixture: NAME -->` in docs/replies.md."""
    found = re.search(rf"<!-- fixture: {name} -->\n```yaml\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    assert found, f"docs/replies.md has no fixture example {name!r}"
    return found.group(1)


def shown(text: str) -> bool:
    """Whether the page says this (line breaks in the page read as spaces)."""
    return text in " ".join(PAGE.read_text(encoding="utf-8").split())


@pytest.fixture
def mock_with(tmp_path: Path, sdk_python: str):
    started: list[MockServer] = []

    def start(*names: str, replace: tuple[str, str] = ("", "")) -> tuple[MockServer, Any]:
        path = tmp_path / "rules.yaml"
        path.write_text("".join(page_fixture(name) for name in names).replace(*replace), encoding="utf-8")
        server = MockServer(tmp_path / "data", fixtures=[path]).start()
        started.append(server)
        return server, server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)

    yield start
    for server in started:
        server.stop()


def test_a_reply_templated_from_the_prompt_the_model_and_the_parameters(mock_with):
    server, plugin = mock_with("templated")
    answer = result(server, plugin, "llm", prompt="please echo this")
    assert answer["text"] == "gpt-4o-mini heard: PLEASE ECHO THIS (temperature 0)"
    assert shown(f"`{answer['text']}`")
    streamed = result(server, plugin, "llm", prompt="echo, but streamed", model="gpt-4o")
    assert "".join(streamed["chunks"]) == "gpt-4o heard: ECHO, BUT STREAMED (temperature 0)"


def test_a_tool_reply_templated_from_the_tool_parameters(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(page_fixture("templated"), encoding="utf-8")
    book = RuleBook.load([path])
    request = {
        "provider": "weather",
        "tool": "get_weather",
        "tool_type": "builtin",
        "tool_parameters": {"city": "Oslo"},
    }
    match = book.answer("tool", request)
    assert match is not None
    assert match.reply.model_dump(by_alias=True, exclude_none=True)["messages"] == [
        {"type": "text", "text": "Sunny in Oslo."},
        {"type": "json", "json": {"tool": "get_weather", "city": "Oslo"}},
    ]


def test_a_template_mistake_is_one_line_naming_the_rule_and_its_file(tmp_path, mock_with):
    path = tmp_path / "typo.yaml"
    path.write_text(page_fixture("templated").replace("{{ prompt | upper }}", "{{ promt }}"), encoding="utf-8")
    with pytest.raises(FixtureError) as refused:
        RuleBook.load([path])
    assert str(refused.value) == (
        f"{path}:5: llm[0].reply.text: unknown name 'promt' in the template (did you mean 'prompt'?)"
    )
    assert shown("rules.yaml:5: llm[0].reply.text: unknown name 'promt' in the template (did you mean 'prompt'?)")

    # One that fails for one call fails that call, and the plugin gets the reason (the model_caller tool sends
    # a temperature, and no top_p).
    server, plugin = mock_with("templated", replace=("parameters.temperature", "parameters.top_p"))
    with pytest.raises(PluginError) as failed:
        result(server, plugin, "llm", prompt="please echo this")
    reason = f"llm rule 'echo' ({tmp_path}/rules.yaml:2): reply.text: 'dict object' has no attribute 'top_p'"
    assert reason in failed.value.message
    assert shown(reason.replace(f"{tmp_path}/", ""))
    entry = server.journal(kind="reverse", type="llm")[-1]
    assert entry["answered_by"] == "rule:echo" and reason in entry["error"]


def test_templates_cannot_reach_python_objects_or_build_huge_texts():
    book = RuleBook()
    book.add(
        {
            "llm": [
                {"match": {"prompt": "class"}, "reply": {"text": "{{ prompt.__class__.__mro__ }}"}},
                {"match": {"prompt": "huge"}, "reply": {"text": "{{ 'a' * 10**9 }}"}},
                {"match": {"prompt": "inject"}, "reply": {"text": "{{ prompt }}"}},
            ]
        }
    )

    def text(prompt: str) -> tuple[str, str | None]:
        match = book.answer("llm", {"prompt_messages": [{"role": "user", "content": prompt}]})
        assert match is not None
        return getattr(match.reply, "text", ""), match.reply.error

    assert "access to attribute '__class__' of 'str' object is unsafe" in str(text("class")[1])
    assert "the result would exceed 1000000 items" in str(text("huge")[1])
    # What a plugin sends is a value, never a template.
    book.add({"llm": [{"match": {"prompt": "{{ 7 * 7 }}"}, "reply": {"text": "you said {{ prompt }}"}}]})
    assert text("{{ 7 * 7 }}") == ("you said {{ 7 * 7 }}", None)


def test_a_rule_limited_to_two_uses_then_the_next_rule_answers(mock_with):
    server, plugin = mock_with("limited")
    texts = [result(server, plugin, "llm", prompt=f"call {n}")["text"] for n in range(4)]
    assert texts == ["one of the first two"] * 2 + ["a later one"] * 2
    rules = {rule["label"]: rule for rule in server.http.get("/mock/rules").json()["rules"]}
    assert (rules["first-two"]["uses"], rules["first-two"]["times"]) == (2, 2)
    server.reset()  # as each pytest test begins: the counts start again
    assert result(server, plugin, "llm", prompt="after a reset")["text"] == "one of the first two"


def test_a_rule_that_fails_twice_then_answers(mock_with):
    server, plugin = mock_with("flaky")
    for _ in range(2):
        with pytest.raises(PluginError, match="429 Too Many Requests"):
            result(server, plugin, "llm", prompt="retry me")
    assert result(server, plugin, "llm", prompt="retry me")["text"] == "third time lucky"
    calls = server.journal(kind="reverse", type="llm")
    assert [(call["answered_by"], call["error"] is not None) for call in calls] == [
        ("rule:flaky", True),
        ("rule:flaky", True),
        ("rule:flaky", False),
    ]


def test_times_and_fail_times_are_checked_with_the_line():
    book = RuleBook()
    with pytest.raises(FixtureError, match=r"'fail_times' \(2\) must be less than 'times' \(2\)"):
        book.add({"llm": [{"times": 2, "fail_times": 2, "reply": {"text": "never"}}]})
    with pytest.raises(FixtureError, match="'fail_error' needs 'fail_times'"):
        book.add({"llm": [{"fail_error": "x", "reply": {"text": "x"}}]})
    with pytest.raises(FixtureError, match="times: Input should be greater than or equal to 1"):
        book.add({"llm": [{"times": 0, "reply": {"text": "x"}}]})


def test_the_json_schema_has_times_fail_times_and_says_replies_are_templates():
    schema = json.loads((REPO_ROOT / "fixtures" / "schema.json").read_text(encoding="utf-8"))
    for rule in ("LlmRule", "ToolRule", "AppRule"):
        properties = schema["$defs"][rule]["properties"]
        assert {"times", "fail_times", "fail_error"} <= set(properties), rule
        assert properties["times"]["anyOf"][0] == {"minimum": 1, "type": "integer"}
        assert "Jinja template" in properties["reply"]["description"]
        assert "Jinja template" in properties["replies"]["description"]
