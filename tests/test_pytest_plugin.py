"""The pytest plugin, used as a plugin developer uses it."""

from __future__ import annotations

import pytest
from conftest import TEST_PLUGINS

pytest_plugins = ["pytester"]


def test_weather(dify_mock):
    dify_mock.add_rules({"llm": [{"match": {"prompt": {"contains": "weather"}}, "reply": {"text": "sunny"}}]})
    plugin = dify_mock.start_plugin(TEST_PLUGINS / "model_caller")
    messages = plugin.invoke_tool("model_caller", "llm", {"prompt": "weather?"})
    assert messages[0]["message"]["json_object"]["text"] == "sunny"
    call = dify_mock.calls("llm")[0]
    assert call.request["prompt_messages"][-1]["content"] == "weather?"
    assert call.prompt == "weather?" and call.answered_by.startswith("rule:api:llm")
    dify_mock.assert_all_rules_used()
    dify_mock.assert_no_unexpected_calls()


def test_rules_added_in_a_test_apply_to_that_test_alone(dify_mock):
    assert [rule for rule in dify_mock.rules() if rule["origin"].startswith("api")] == []
    plugin = dify_mock.start_plugin(TEST_PLUGINS / "model_caller")
    plugin.invoke_tool("model_caller", "llm", {"prompt": "weather?"})
    assert dify_mock.calls("llm")[0].answered_by == "builtin"
    assert len(dify_mock.unexpected_calls()) == 1
    with pytest.raises(
        AssertionError, match=r"reverse calls no rule answered \(1\):\n  llm from dify-mock-tests/model_caller"
    ):
        dify_mock.assert_no_unexpected_calls()


def test_bad_rules_are_refused_with_the_reason(dify_mock):
    with pytest.raises(ValueError, match="promt"):
        dify_mock.add_rules({"llm": [{"match": {"promt": "x"}, "reply": {"text": "y"}}]})
    dify_mock.add_rules(
        {"moderation": [{"name": "never", "match": {"text": "never sent"}, "reply": {"flagged": True}}]}
    )
    with pytest.raises(AssertionError, match="never"):
        dify_mock.assert_all_rules_used()


def test_a_user_test_file_passes_with_only_the_installed_plugin(user_project):
    user_project.makepyfile(
        """
        def test_moderation(dify_mock, connected_plugin):
            dify_mock.add_rules({"moderation": [{"match": {"text": {"contains": "secret"}}, "reply": {"flagged": True}}]})
            messages = connected_plugin.invoke_tool("model_caller", "moderation", {"text": "a secret"})
            assert messages[0]["message"]["json_object"] == {"flagged": True}
            assert dify_mock.calls("moderation")[0].request["text"] == "a secret"
            dify_mock.assert_all_rules_used()
        """
    )
    result = user_project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_scenario_states_can_be_read_and_reset(dify_mock):
    dify_mock.add_rules(
        {
            "llm": [
                {"scenario": "s", "next_state": "asked", "reply": {"text": 'Action: {"action": "clock"}'}},
                {"scenario": "s", "state": "asked", "next_state": "done", "reply": {"text": "Final Answer: 9"}},
            ],
            "tool": [{"reply": {"messages": [{"type": "text", "text": "09:00"}]}}],
        }
    )
    plugin = dify_mock.start_plugin(TEST_PLUGINS / "simple_agent")
    clock = {"identity": {"author": "a", "name": "clock", "label": {"en_US": "clock"}, "provider": "time"}}
    clock |= {"parameters": [], "description": {"human": {"en_US": "c"}, "llm": "c"}, "provider_type": "builtin"}
    model = {"provider": "langgenius/openai/openai", "model": "m", "model_type": "llm", "mode": "chat"}
    chunks = plugin.invoke_agent_strategy(
        "simple_agent", "react", {"model": model | {"completion_params": {}}, "tools": [clock], "query": "time?"}
    )
    assert [chunk["message"]["text"] for chunk in chunks if chunk["type"] == "text"] == ["9"]
    [(session, scenario)] = dify_mock.scenario_states()
    assert scenario == "s" and dify_mock.scenario_states()[(session, scenario)] == "done"
    assert dify_mock.reset_scenarios("s") == 1
    assert dify_mock.scenario_states() == {}
