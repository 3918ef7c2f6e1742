"""The `tool` fixture family: match facts, parameter conditions, the reply messages and how they render."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from dify_mock.answers.builtin.models import builtin_reply
from dify_mock.answers.replies import (
    BlobToolMessage,
    JsonToolMessage,
    TextToolMessage,
    ToolReply,
)
from dify_mock.answers.rules import FIXTURE_KEYS, FixtureError, RuleBook, fixture_json_schema
from dify_mock.reverse.tools import render_tool_reply


def tool_request(
    provider: str = "time", tool: str = "current_time", tool_type: str = "builtin", **parameters: Any
) -> dict[str, Any]:
    return {"tool_type": tool_type, "provider": provider, "tool": tool, "tool_parameters": parameters}


def book(*rules: dict[str, Any]) -> RuleBook:
    found = RuleBook()
    found.add({"tool": list(rules)})
    return found


def answered_by(rules: RuleBook, request: dict[str, Any]) -> str | None:
    found = rules.answer("tool", request)
    return found.rule.label() if found else None


def load_error(folder: Path, text: str) -> str:
    path = folder / "bad.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    with pytest.raises(FixtureError) as caught:
        RuleBook.load([path])
    return str(caught.value)


NOTHING: dict[str, Any] = {"messages": []}


# The user's format


def test_the_documented_rule_loads_and_answers(tmp_path: Path) -> None:
    path = tmp_path / "clock.yaml"
    path.write_text(
        textwrap.dedent(
            """
            tool:
              - name: clock
                match: {provider: time, tool: current_time, parameters: {timezone: UTC}}
                reply: {messages: [{type: text, text: "12:00 UTC"}, {type: json, json: {hour: 12}}]}
            """
        ),
        encoding="utf-8",
    )
    rules = RuleBook.load([path])
    assert FIXTURE_KEYS["tool"] == "tool"
    found = rules.answer("tool", tool_request(timezone="UTC"))
    assert found is not None and found.rule.label() == "clock"
    assert isinstance(found.reply, ToolReply)
    text, data = found.reply.messages
    assert isinstance(text, TextToolMessage) and text.text == "12:00 UTC"
    assert isinstance(data, JsonToolMessage) and data.data == {"hour": 12}
    assert list(render_tool_reply(found.reply)) == [
        {"type": "text", "message": {"text": "12:00 UTC"}, "meta": None},
        {"type": "json", "message": {"json_object": {"hour": 12}}, "meta": None},
    ]
    assert rules.answer("tool", tool_request(timezone="Europe/Paris")) is None
    assert rules.answer("tool", tool_request(provider="other", timezone="UTC")) is None


# Matching


def test_provider_tool_and_tool_type_take_exact_and_patterns() -> None:
    rules = book(
        {"name": "mcp", "match": {"tool_type": "mcp"}, "reply": NOTHING},
        {"name": "search", "match": {"provider": {"contains": "/google/"}, "tool": {"regex": "^search"}}, "reply": {}},
    )
    assert answered_by(rules, tool_request(tool_type="mcp")) == "mcp"
    assert answered_by(rules, tool_request("langgenius/google/google", "search_web")) == "search"
    assert answered_by(rules, tool_request("langgenius/google/google", "web_search")) is None


def test_every_listed_parameter_must_match_and_others_are_ignored() -> None:
    rules = book({"name": "r", "match": {"parameters": {"city": "Paris", "units": "metric"}}, "reply": NOTHING})
    assert answered_by(rules, tool_request(city="Paris", units="metric", extra=1)) == "r"
    assert answered_by(rules, tool_request(city="Paris")) is None
    assert answered_by(rules, tool_request(city="Paris", units="imperial")) is None


@pytest.mark.parametrize(
    ("wanted", "given", "matches"),
    [
        (3, 3, True),
        (3, 3.0, True),
        (3, "3", False),
        ("3", 3, False),
        (0.5, 0.5, True),
        (True, True, True),
        (False, False, True),
        (True, 1, False),
        (1, True, False),
        (False, 0, False),
        ({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2]}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ({"a": True}, {"a": 1}, False),
        ([1, "x"], [1, "x"], True),
        ([1, "x"], ["x", 1], False),
        ("Paris", "Paris", True),
        ("Paris", "paris", False),
    ],
)
def test_exact_values_compare_by_json_equality(wanted: Any, given: Any, matches: bool) -> None:
    rules = book({"name": "r", "match": {"parameters": {"p": wanted}}, "reply": NOTHING})
    assert (answered_by(rules, tool_request(p=given)) == "r") is matches


def test_null_matches_a_missing_parameter() -> None:
    rules = book({"name": "r", "match": {"parameters": {"p": None}}, "reply": NOTHING})
    assert answered_by(rules, tool_request()) == "r"
    assert answered_by(rules, tool_request(p=None)) == "r"
    assert answered_by(rules, tool_request(p="x")) is None


def test_parameter_patterns_match_strings_and_string_elements() -> None:
    rules = book(
        {"name": "contains", "match": {"parameters": {"q": {"contains": "weather"}}}, "reply": NOTHING},
        {"name": "regex", "match": {"parameters": {"q": {"regex": "(?i)^TIME"}}}, "reply": NOTHING},
    )
    assert answered_by(rules, tool_request(q="the weather today")) == "contains"
    assert answered_by(rules, tool_request(q="time in Paris")) == "regex"
    assert answered_by(rules, tool_request(q=["news", "weather"])) == "contains"
    assert answered_by(rules, tool_request(q=42)) is None
    assert answered_by(rules, tool_request()) is None


def test_an_object_that_is_not_a_pattern_is_an_exact_value() -> None:
    rules = book({"name": "r", "match": {"parameters": {"filter": {"contains_all": ["a"]}}}, "reply": NOTHING})
    assert answered_by(rules, tool_request(filter={"contains_all": ["a"]})) == "r"


def test_a_request_without_tool_parameters_only_meets_null_conditions() -> None:
    rules = book({"name": "r", "match": {"parameters": {"p": 1}}, "reply": NOTHING})
    assert rules.answer("tool", {"provider": "time", "tool": "current_time"}) is None
    assert rules.answer("tool", {"provider": "time", "tool": "current_time", "tool_parameters": "x"}) is None


# Reports


def test_near_miss_names_each_differing_parameter() -> None:
    rules = book(
        {
            "name": "clock",
            "match": {"tool": "current_time", "parameters": {"timezone": "UTC", "format": {"contains": "%H"}}},
            "reply": NOTHING,
        }
    )
    text = rules.near_miss("tool", tool_request(timezone="Europe/Paris"))
    assert text.splitlines() == [
        "no tool rule matched (1 rule checked); nearest is clock (api:tool[0]), 2 of 3 match fields differ:",
        '  parameters.timezone: wanted "UTC", got "Europe/Paris"',
        '  parameters.format: wanted contains "%H", got nothing (not given)',
    ]


def test_near_miss_without_tool_rules() -> None:
    assert RuleBook().near_miss("tool", tool_request()) == (
        "no fixture rules for tool (fixture key 'tool'); no rules are loaded at all"
    )


def test_warnings_compare_parameter_conditions() -> None:
    same = {"parameters": {"q": {"contains": "x"}, "n": 1}}
    rules = book(
        {"name": "a", "match": same, "reply": NOTHING},
        {"name": "b", "match": same, "reply": NOTHING},
        {"name": "c", "match": {"parameters": {"q": {"contains": "y"}}}, "reply": NOTHING},
    )
    warnings = rules.warnings()
    assert len(warnings) == 1 and "'b' can never answer" in warnings[0] and "same match" in warnings[0]


# Replies


def test_error_replies_are_kept() -> None:
    rules = book({"match": {"tool": "current_time"}, "reply": {"error": "down"}})
    found = rules.answer("tool", tool_request())
    assert found is not None and found.reply.error == "down"


def test_every_message_type_renders_as_the_sdk_parses_it() -> None:
    reply = ToolReply.model_validate(
        {
            "messages": [
                {"type": "text", "text": "hi"},
                {"type": "link", "link": "https://a"},
                {"type": "link", "text": "https://b"},
                {"type": "image", "url": "https://img"},
                {"type": "json", "json": [1, 2]},
                {"type": "blob", "blob_base64": "AP8="},
                {"type": "blob", "text": "é", "mime_type": "text/csv", "meta": {"file_name": "a.csv"}},
                {"type": "variable", "name": "v", "value": {"k": [1]}},
                {"type": "variable", "name": "s", "value": "part", "stream": True},
                {"type": "file", "file": {"url": "https://f", "filename": "f.pdf"}},
                {"type": "log", "label": "step", "status": "start", "data": {"n": 1}, "metadata": {"provider": "p"}},
                {"type": "log", "label": "named", "id": "L1", "parent_id": "L0", "error": "bad", "status": "error"},
                {"type": "text", "text": "with meta", "meta": {"k": "v"}},
            ]
        }
    )
    assert list(render_tool_reply(reply)) == [
        {"type": "text", "message": {"text": "hi"}, "meta": None},
        {"type": "link", "message": {"text": "https://a"}, "meta": None},
        {"type": "link", "message": {"text": "https://b"}, "meta": None},
        {"type": "image", "message": {"text": "https://img"}, "meta": None},
        {"type": "json", "message": {"json_object": [1, 2]}, "meta": None},
        {"type": "blob", "message": {"blob": "AP8="}, "meta": {"mime_type": "application/octet-stream"}},
        {"type": "blob", "message": {"blob": "w6k="}, "meta": {"mime_type": "text/csv", "file_name": "a.csv"}},
        {
            "type": "variable",
            "message": {"variable_name": "v", "variable_value": {"k": [1]}, "stream": False},
            "meta": None,
        },
        {"type": "variable", "message": {"variable_name": "s", "variable_value": "part", "stream": True}, "meta": None},
        {"type": "file", "message": None, "meta": {"file": {"url": "https://f", "filename": "f.pdf"}}},
        {
            "type": "log",
            "message": {
                "id": "log_11",
                "label": "step",
                "parent_id": None,
                "error": None,
                "status": "start",
                "data": {"n": 1},
                "metadata": {"provider": "p"},
            },
            "meta": None,
        },
        {
            "type": "log",
            "message": {
                "id": "L1",
                "label": "named",
                "parent_id": "L0",
                "error": "bad",
                "status": "error",
                "data": {},
                "metadata": None,
            },
            "meta": None,
        },
        {"type": "text", "message": {"text": "with meta"}, "meta": {"k": "v"}},
    ]


def test_blob_text_defaults_to_text_plain_and_is_always_base64() -> None:
    message = BlobToolMessage.model_validate({"type": "blob", "text": "abcd"})
    assert message.data() == b"abcd" and message.content_type() == "text/plain"
    [rendered] = render_tool_reply(ToolReply(messages=[message]))
    assert rendered["message"] == {"blob": "YWJjZA=="}


def test_builtin_answer_echoes_the_call_deterministically() -> None:
    request = tool_request(timezone="UTC", days=2)
    reply = builtin_reply("tool", request)
    assert reply == builtin_reply("tool", dict(request))
    assert isinstance(reply, ToolReply)
    assert list(render_tool_reply(reply)) == [
        {
            "type": "text",
            "message": {"text": 'time/current_time called with {"days": 2, "timezone": "UTC"}'},
            "meta": None,
        },
        {
            "type": "json",
            "message": {
                "json_object": {
                    "provider": "time",
                    "tool": "current_time",
                    "tool_type": "builtin",
                    "parameters": {"timezone": "UTC", "days": 2},
                }
            },
            "meta": None,
        },
    ]


def test_builtin_answer_without_parameters() -> None:
    reply = builtin_reply("tool", {"provider": "p", "tool": "t"})
    assert isinstance(reply, ToolReply)
    first = reply.messages[0]
    assert isinstance(first, TextToolMessage) and first.text == "p/t called with {}"


# Load errors


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("{type: txt, text: a}", "messages[0].type: unknown type \"txt\" (did you mean 'text'?)"),
        ("{text: a}", "messages[0]: missing key 'type'"),
        ("{type: text, txt: a}", "messages[0]: unknown key 'txt' (did you mean 'text'?)"),
        ("{type: json, jsn: {}}", "messages[0]: unknown key 'jsn' (did you mean 'json'?)"),
        ("{type: json, json: 3}", "messages[0].json"),
        ("{type: variable, name: v, value: 1, stream: true}", "a streamed variable's 'value' must be a string"),
        ("{type: blob, blob_base64: '!!'}", "'blob_base64' is not valid base64"),
        ("{type: blob}", "give exactly one of 'blob_base64' or 'text'"),
        ("{type: link, link: a, text: b}", "give exactly one of 'link' or 'text'"),
        ("{type: log, label: x, status: done}", "messages[0].status"),
        ("{type: log, label: x, metadata: {when: 1}}", "messages[0].metadata"),
        ("{type: image}", "messages[0]: missing key 'url'"),
    ],
)
def test_bad_messages_name_the_line_and_the_problem(tmp_path: Path, message: str, expected: str) -> None:
    error = load_error(
        tmp_path,
        f"""
        tool:
          - reply:
              messages:
                - {message}
        """,
    )
    assert error.startswith(f"{tmp_path / 'bad.yaml'}:4: tool[0].reply.messages[0]"), error
    assert expected in error


def test_bad_parameter_conditions(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        tool:
          - match:
              parameters:
                a: {contains: x, regex: y}
                b: {regex: "("}
                day: 2024-01-01
            reply: {}
        """,
    )
    assert "tool[0].match.parameters.a: give exactly one of 'contains' or 'regex'" in error
    assert "tool[0].match.parameters.b.regex: bad regular expression" in error
    assert ":6: tool[0].match.parameters.day:" in error and "put it in quotes" in error


def test_unknown_match_field_suggests_the_tool_facts(tmp_path: Path) -> None:
    error = load_error(
        tmp_path,
        """
        tool:
          - match: {params: {a: 1}}
            reply: {}
        """,
    )
    assert "unknown key 'params'" in error and "parameters" in error


def test_schema_offers_the_tool_key_with_a_discriminated_message_union() -> None:
    schema = fixture_json_schema()
    assert "tool" in schema["properties"]
    defs = schema["$defs"]
    assert set(defs["ToolMatch"]["properties"]) == {"provider", "tool", "tool_type", "parameters"}
    items = defs["ToolReply"]["properties"]["messages"]["items"]
    assert items["discriminator"]["propertyName"] == "type"
    assert set(items["discriminator"]["mapping"]) == {
        "text",
        "link",
        "image",
        "json",
        "blob",
        "variable",
        "file",
        "log",
    }
    condition = defs["ToolMatch"]["properties"]["parameters"]["anyOf"][0]["additionalProperties"]
    assert "anyOf" in condition  # an exact value may be any JSON, so a oneOf would refuse every pattern
