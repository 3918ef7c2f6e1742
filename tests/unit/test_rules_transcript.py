"""Rules that see the whole transcript (`messages`, `tool_results`, `turn`) and scenarios."""

from pathlib import Path
from typing import Any

import pytest
from dify_mock.answers.replies import LLMReply
from dify_mock.answers.rules import RuleBook

from tests.unit.test_rules import book, load_error, write


def conversation(*messages: tuple[str, str]) -> dict[str, Any]:
    return {
        "provider": "langgenius/openai/openai",
        "model": "gpt-4o-mini",
        "model_type": "llm",
        "prompt_messages": [{"role": role, "content": text} for role, text in messages],
        "tools": None,
        "stream": True,
    }


def text_of(rules: RuleBook, request: dict[str, Any], scope: str = "") -> str | None:
    found = rules.answer("llm", request, scope)
    if found is None:
        return None
    assert isinstance(found.reply, LLMReply)
    return found.reply.text


# The official ReAct strategy: the question in the first user message only, later turns end with "continue" and
# carry the observation inside an assistant message.
REACT_TURN_2 = conversation(
    ("system", "Respond to the human as helpfully and accurately as possible."),
    ("user", "What is the weather in Paris?"),
    ("assistant", 'Thought: I need the weather.\nAction: {"action": "weather"}\nObservation: 21 degrees and sunny\n'),
    ("user", "continue"),
)


def test_messages_matches_any_message_and_a_role() -> None:
    rules = book(
        {
            "llm": [
                {
                    "name": "by-role",
                    "match": {"messages": {"role": "user", "contains": "Paris"}},
                    "reply": {"text": "a"},
                },
            ]
        }
    )
    assert text_of(rules, REACT_TURN_2) == "a"
    assert text_of(rules, conversation(("system", "Paris"), ("user", "continue"))) is None


def test_messages_exact_text_and_role_alone() -> None:
    exact = book({"llm": [{"match": {"messages": "continue"}, "reply": {"text": "exact"}}]})
    assert text_of(exact, REACT_TURN_2) == "exact"
    assert text_of(exact, conversation(("user", "continue please"))) is None
    role_only = book({"llm": [{"match": {"messages": {"role": "tool"}}, "reply": {"text": "has a tool message"}}]})
    assert text_of(role_only, REACT_TURN_2) is None
    assert text_of(role_only, conversation(("user", "q"), ("tool", "42"))) == "has a tool message"
    equals = book({"llm": [{"match": {"messages": {"role": "user", "equals": "q"}}, "reply": {"text": "eq"}}]})
    assert text_of(equals, conversation(("user", "q"), ("tool", "42"))) == "eq"


def test_tool_results_see_tool_messages_and_react_observations() -> None:
    rules = book({"llm": [{"match": {"tool_results": {"contains": "sunny"}}, "reply": {"text": "final"}}]})
    assert text_of(rules, REACT_TURN_2) == "final"
    assert text_of(rules, conversation(("user", "q"), ("tool", "sunny all day"))) == "final"
    assert text_of(rules, conversation(("user", "is it sunny?"))) is None
    exact = book({"llm": [{"match": {"tool_results": "21 degrees and sunny"}, "reply": {"text": "exact"}}]})
    assert text_of(exact, REACT_TURN_2) == "exact"


def test_observation_ends_at_the_next_step() -> None:
    steps = "Observation: one\nThought: again\nAction: x\nObservation: two"
    rules = book({"llm": [{"match": {"tool_results": "one"}, "reply": {"text": "first"}}]})
    assert text_of(rules, conversation(("user", "q"), ("assistant", steps))) == "first"


def test_turn_counts_assistant_messages() -> None:
    rules = book(
        {
            "llm": [
                {"match": {"turn": 0}, "reply": {"text": "zero"}},
                {"match": {"turn": 1}, "reply": {"text": "one"}},
            ]
        }
    )
    assert text_of(rules, conversation(("user", "q"))) == "zero"
    assert text_of(rules, REACT_TURN_2) == "one"
    assert text_of(rules, conversation(("user", "q"), ("assistant", "a"), ("user", "b"), ("assistant", "c"))) is None


def test_question_and_tool_result_together() -> None:
    """The rule a new user writes for an agent: keyed on the question, told apart by the tool result."""
    rules = book(
        {
            "llm": [
                {
                    "match": {
                        "messages": {"role": "user", "contains": "weather"},
                        "tool_results": {"contains": "sunny"},
                    },
                    "reply": {"text": "Final Answer: sunny"},
                },
                {"match": {"messages": {"role": "user", "contains": "weather"}}, "reply": {"text": "Action: weather"}},
            ]
        }
    )
    first = conversation(("system", "s"), ("user", "What is the weather in Paris?"))
    assert text_of(rules, first) == "Action: weather"
    assert text_of(rules, REACT_TURN_2) == "Final Answer: sunny"


# Scenarios


SCENARIO = {
    "llm": [
        {"scenario": "agent", "next_state": "looked", "reply": {"text": "Action: look"}},
        {"scenario": "agent", "state": "looked", "next_state": "done", "reply": {"text": "Final Answer: seen"}},
        {"scenario": "agent", "state": "done", "reply": {"text": "after the end"}},
    ]
}


def test_scenario_walks_its_states() -> None:
    rules = book(SCENARIO)
    question = conversation(("user", "q"))
    assert [text_of(rules, question, "run") for _ in range(4)] == [
        "Action: look",
        "Final Answer: seen",
        "after the end",
        "after the end",
    ]


def test_scenario_state_is_kept_per_scope() -> None:
    rules = book(SCENARIO)
    question = conversation(("user", "q"))
    assert text_of(rules, question, "a") == "Action: look"
    assert text_of(rules, question, "b") == "Action: look"
    assert text_of(rules, question, "a") == "Final Answer: seen"
    assert rules.scenarios.snapshot() == {"a": {"agent": "done"}, "b": {"agent": "looked"}}


def test_scenario_change_is_reported_and_reset() -> None:
    rules = book(SCENARIO)
    found = rules.answer("llm", conversation(("user", "q")), "run")
    assert found is not None
    assert found.scenario_change == {"scenario": "agent", "from": "started", "to": "looked", "rule": "api:llm[0]"}
    assert rules.scenarios.reset(scenario="other") == 0
    assert rules.scenarios.reset(scope="run") == 1
    assert text_of(rules, conversation(("user", "q")), "run") == "Action: look"
    assert rules.scenarios.reset() == 1
    assert rules.scenarios.snapshot() == {}


def test_near_miss_names_the_scenario_state() -> None:
    rules = book(
        {
            "llm": [
                {"scenario": "agent", "match": {"prompt": "go"}, "next_state": "x", "reply": {"text": "t"}},
                {"scenario": "agent", "state": "x", "match": {"prompt": "q"}, "reply": {"text": "u"}},
            ]
        }
    )
    near = rules.near_miss("llm", conversation(("user", "q")), "fresh")
    assert near.splitlines()[1:] == ['  state (scenario agent): wanted "x", got "started"']
    assert text_of(rules, conversation(("user", "go")), "s") == "t"
    assert text_of(rules, conversation(("user", "q")), "s") == "u"


def test_near_miss_names_a_transcript_key() -> None:
    rules = book({"llm": [{"name": "agent", "match": {"tool_results": {"contains": "sunny"}}, "reply": {}}]})
    text = rules.near_miss("llm", conversation(("user", "q"), ("tool", "rain")))
    assert 'tool_results: wanted contains "sunny"' in text


# Refused at start-up, with file, line and key


def test_unreachable_state_is_refused(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        """
        llm:
          - scenario: agent
            next_state: looked
            reply: {text: a}
          - scenario: agent
            state: lokked
            reply: {text: b}
        """,
    )
    assert message.startswith(f"{tmp_path / 'bad.yaml'}:6: llm[1].state: scenario 'agent' never reaches state 'lokked'")
    assert "its states: looked, started" in message


def test_unreachable_state_is_refused_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "llm:\n  - {scenario: s, next_state: two, reply: {text: a}}\n")
    write(tmp_path, "b.yaml", "llm:\n  - {scenario: s, state: two, reply: {text: b}}\n")
    rules = RuleBook.load([tmp_path])
    assert len(rules.rules("llm")) == 2
    with pytest.raises(ValueError, match="never reaches state 'three'"):
        rules.add({"llm": [{"scenario": "s", "state": "three", "reply": {"text": "c"}}]})


def test_negative_turn_is_refused(tmp_path: Path) -> None:
    message = load_error(tmp_path, "llm:\n  - match:\n      turn: -1\n    reply: {text: a}\n")
    assert message.startswith(f"{tmp_path / 'bad.yaml'}:3: llm[0].match.turn:")
    assert "greater than or equal to 0" in message


def test_unknown_role_is_refused(tmp_path: Path) -> None:
    message = load_error(
        tmp_path, "llm:\n  - match:\n      messages: {role: robot, contains: x}\n    reply: {text: a}\n"
    )
    assert message.startswith(f"{tmp_path / 'bad.yaml'}:3: llm[0].match.messages.role:")
    assert "robot" in message and "assistant" in message


def test_state_without_a_scenario_is_refused(tmp_path: Path) -> None:
    message = load_error(tmp_path, "llm:\n  - state: x\n    reply: {text: a}\n")
    assert "'state' and 'next_state' need a 'scenario'" in message
