"""The mock and the plugin stay up across a session's tests, and what each test sees of rules and journal is its own.

Each check is a small user test suite run by pytester in a subprocess, whose tests run in file order and assert
on what the tests before them left behind.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


def test_rules_journal_and_scenarios_stay_with_the_test_that_made_them(user_project: pytest.Pytester) -> None:
    user_project.makefile(
        ".yaml",
        shared_rules="llm:\n  - name: from-file\n    match: {prompt: {contains: file}}\n    reply: {text: filed}\n",
    )
    user_project.makepyfile(
        """
        import pytest

        seen = {}

        def ask(plugin, prompt):
            return plugin.invoke_tool("model_caller", "llm", {"prompt": prompt})[0]["message"]["json_object"]["text"]

        def test_first_adds_a_rule_and_calls(dify_mock, connected_plugin):
            dify_mock.add_rules({"llm": [{"name": "mine", "reply": {"text": "first"}}]})
            assert ask(connected_plugin, "hello") == "first"
            assert [call.answered_by for call in dify_mock.calls()] == ["rule:mine"]
            seen["pid"], seen["url"] = connected_plugin.process.pid, dify_mock.url

        def test_second_sees_neither_the_rule_nor_the_call(dify_mock, connected_plugin):
            assert dify_mock.url == seen["url"] and connected_plugin.process.pid == seen["pid"]
            assert "mine" not in [rule["label"] for rule in dify_mock.rules()]
            assert dify_mock.calls() == [] and dify_mock.invocations() == []
            assert ask(connected_plugin, "hello") != "first"
            assert [call.answered_by for call in dify_mock.calls("llm")] == ["builtin"]
            assert len(dify_mock.invocations()) == 1

        def test_a_failing_test_adds_a_rule(dify_mock, connected_plugin):
            dify_mock.add_rules({"llm": [{"name": "left-behind", "reply": {"text": "stale"}}]})
            raise RuntimeError("this test fails on purpose")

        def test_the_failed_tests_rule_is_gone(dify_mock, connected_plugin):
            assert [rule["label"] for rule in dify_mock.rules() if rule["label"] == "left-behind"] == []
            assert ask(connected_plugin, "hello") != "stale"

        def test_a_rule_left_for_the_next(dify_mock):
            dify_mock.add_rules({"llm": [{"name": "leftover", "reply": {"text": "old"}}]})

        def test_reaching_the_mock_by_its_url_alone_sees_no_leftover(dify_mock):
            import httpx

            rules = httpx.get(dify_mock.url + "/mock/rules").json()["rules"]
            assert "leftover" not in [rule["label"] for rule in rules]

        def test_another_rule_left_for_the_next(dify_mock):
            dify_mock.add_rules({"llm": [{"name": "again", "reply": {"text": "stale again"}}]})

        def test_invoking_the_plugin_first_sees_no_leftover(dify_mock, connected_plugin):
            assert ask(connected_plugin, "hello") != "stale again"
            assert [call.answered_by for call in dify_mock.calls("llm")] == ["builtin"]

        def test_a_scenario_moves(dify_mock, connected_plugin):
            dify_mock.add_rules({"llm": [{"scenario": "s", "next_state": "moved", "reply": {"text": "go"}}]})
            assert ask(connected_plugin, "hello") == "go"
            assert list(dify_mock.scenario_states().values()) == ["moved"]

        def test_the_next_test_starts_with_every_scenario_in_started(dify_mock):
            assert dify_mock.scenario_states() == {}

        @pytest.mark.dify_mock(fixtures=["shared_rules.yaml"])
        def test_rule_uses_count_this_tests_calls_a(dify_mock, connected_plugin):
            assert ask(connected_plugin, "from the file") == "filed"
            [rule] = [rule for rule in dify_mock.rules() if rule["label"] == "from-file"]
            assert rule["uses"] == 1
            seen["file_url"] = dify_mock.url

        @pytest.mark.dify_mock(fixtures=["shared_rules.yaml"])
        def test_rule_uses_count_this_tests_calls_b(dify_mock, connected_plugin):
            assert dify_mock.url == seen["file_url"] != seen["url"]
            [rule] = [rule for rule in dify_mock.rules() if rule["label"] == "from-file"]
            assert rule["uses"] == 0
            with pytest.raises(AssertionError, match="from-file"):
                dify_mock.assert_all_rules_used()

        @pytest.mark.dify_mock(fresh=True)
        def test_fresh_gets_a_mock_of_its_own(dify_mock, connected_plugin):
            assert dify_mock.url not in (seen["url"], seen["file_url"])
            assert connected_plugin.process.pid != seen["pid"]
            seen["fresh_pid"] = connected_plugin.process.pid

        def test_the_shared_mock_and_plugin_are_still_there(dify_mock, connected_plugin):
            assert dify_mock.url == seen["url"] and connected_plugin.process.pid == seen["pid"]
            assert [call.plugin_id for call in dify_mock.calls()] == []
        """
    )
    result = user_project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=13, failed=1)
    result.stdout.fnmatch_lines(["*test_a_failing_test_adds_a_rule*"])


def test_a_plugin_stopped_by_a_test_is_started_again_for_the_next(user_project: pytest.Pytester) -> None:
    user_project.makepyfile(
        """
        seen = {}

        def test_stops_the_plugin(connected_plugin):
            seen["pid"] = connected_plugin.process.pid
            connected_plugin.stop()

        def test_gets_a_new_process(dify_mock, connected_plugin):
            assert connected_plugin.process.pid != seen["pid"] and connected_plugin.process.alive()
            messages = connected_plugin.invoke_tool("model_caller", "llm", {"prompt": "hi"})
            assert messages and len(dify_mock.calls("llm")) == 1
        """
    )
    result = user_project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
