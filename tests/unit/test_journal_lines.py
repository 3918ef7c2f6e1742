"""One journal entry as `dify-mock journal` prints it: who answered, named once."""

from __future__ import annotations

from typing import Any

from dify_mock.cli.journal import format_entry


def entry(answered_by: str, rule: str | None) -> dict[str, Any]:
    return {
        "id": 2,
        "time": 0,
        "kind": "reverse",
        "type": "moderation",
        "plugin_id": "a/b",
        "answered_by": answered_by,
        "rule": rule,
        "done": True,
        "duration_ms": 0.3,
        "request": {"text": "hi"},
        "response": [{"flagged": True}],
    }


def test_a_named_rule_is_shown_with_its_place() -> None:
    line = format_entry(entry("rule:greeting", "rules.yaml:3"))
    assert "  rule:greeting (rules.yaml:3)  " in line


def test_a_rule_without_a_name_is_called_by_its_place_once() -> None:
    line = format_entry(entry("rule:fixtures/examples.yaml:107", "fixtures/examples.yaml:107"))
    assert "  rule:fixtures/examples.yaml:107  " in line
    assert line.count("examples.yaml:107") == 1


def test_a_builtin_answer_has_no_rule() -> None:
    assert "  builtin  " in format_entry(entry("builtin", None))
