"""Whole conversations: the ReAct-shaped strategy of tests/plugins/simple_agent scripted on its transcript and as a
scenario, parallel runs kept apart, the scenario API, and a multi-turn run recorded and replayed turn for turn."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from dify_mock.testing import MockServer, PluginProcess
from openai_standin import StandIn
from test_reverse_tool import MODEL, PROVIDER, texts, tool_entity

FORECAST = tool_entity("weather", "forecast", {"city": "string"})
CLOCK = tool_entity("time", "current_time", {"timezone": "string"})
KEY_ENV = "STANDIN_REACT_API_KEY"
KEY = "sk-standin-react-Hq2w8Ln"


def react(mock: MockServer, agent: PluginProcess, query: str, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    params = {"model": MODEL, "tools": tools, "query": query, "max_iterations": 4}
    return mock.invoke_agent_strategy(agent.plugin_id, PROVIDER, "react", params)


def steps(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk["message"]["data"] for chunk in chunks if chunk["type"] == "log"]


@pytest.mark.mock_server(fixtures=["fixtures/react_agent.yaml"], strict=True)
def test_react_reaches_its_final_answer_from_rules_on_the_question_and_the_tool_results(mock_server, simple_agent):
    chunks = react(mock_server, simple_agent, "What is the weather in Paris?", [FORECAST])
    assert texts(chunks) == "It is sunny in Paris."
    [step] = steps(chunks)
    assert step["observation"] == "21 degrees and sunny"

    calls = mock_server.journal(kind="reverse")
    assert [(c["type"], c["answered_by"]) for c in calls] == [
        ("llm", "rule:paris-ask"),
        ("tool", "rule:forecast"),
        ("llm", "rule:paris-final"),
    ]
    second = calls[2]["request"]["prompt_messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[-1]["content"] == "continue"
    assert "Observation: 21 degrees and sunny" in second[2]["content"]


@pytest.mark.mock_server(fixtures=["fixtures/react_agent.yaml"], strict=True)
def test_parallel_runs_walk_the_scenario_apart_and_the_journal_records_each_move(mock_server, simple_agent):
    runs = 3
    with ThreadPoolExecutor(runs) as pool:
        answers = list(
            pool.map(lambda _: react(mock_server, simple_agent, "What time is it in Tokyo?", [CLOCK]), range(runs))
        )
    assert [texts(chunks) for chunks in answers] == ["It is 09:00 in Tokyo."] * runs

    moves = mock_server.journal(kind="scenario")
    assert len(moves) == 2 * runs
    by_session: dict[str, list[tuple[str, str, str]]] = {}
    for move in moves:
        request = move["request"]
        assert move["type"] == "tokyo" and request["scenario"] == "tokyo"
        by_session.setdefault(move["session_id"], []).append((request["from"], request["to"], move["answered_by"]))
    assert len(by_session) == runs
    for walk in by_session.values():
        assert walk == [("started", "asked", "rule:tokyo-ask"), ("asked", "answered", "rule:tokyo-final")]
    llm_sessions = {call["session_id"] for call in mock_server.journal(kind="reverse", type="llm")}
    assert llm_sessions == set(by_session)

    listed = mock_server.scenarios()
    assert listed["scenarios"] == {"tokyo": ["answered", "asked", "started"]}
    assert sorted(state["session_id"] for state in listed["states"]) == sorted(by_session)
    assert {state["state"] for state in listed["states"]} == {"answered"}
    one = next(iter(by_session))
    assert mock_server.scenarios(session_id=one)["states"] == [
        {"session_id": one, "scenario": "tokyo", "state": "answered"}
    ]
    assert mock_server.reset_scenarios(session_id=one) == 1
    assert mock_server.reset_scenarios(scenario="no-such-scenario") == 0
    assert mock_server.reset_scenarios() == runs - 1
    assert mock_server.scenarios()["states"] == []


@pytest.mark.mock_server(fixtures=["fixtures/react_agent.yaml"])
def test_an_unreachable_scenario_state_is_refused_over_the_api(mock_server):
    response = mock_server.http.post(
        "/mock/rules", json={"llm": [{"scenario": "tokyo", "state": "nowhere", "reply": {"text": "x"}}]}
    )
    assert response.status_code == 400
    assert "api:llm[0].state: scenario 'tokyo' never reaches state 'nowhere'" in response.json()["error"]


def write_config(folder: Path, base_url: str) -> Path:
    config = {
        "backends": {"standin": {"type": "openai", "base_url": base_url, "api_key_env": KEY_ENV, "timeout": 10}},
        "chain": {"llm": ["fixtures", "replay", "standin", "builtin"]},
    }
    path = folder / "dify-mock.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def run_recorded(
    folder: Path, sdk_python: str, args: list[str], env: dict[str, str]
) -> tuple[str, list[dict[str, Any]]]:
    tools = Path(__file__).parent / "fixtures" / "react_agent.yaml"
    server = MockServer(folder, fixtures=[], extra_args=args, env=env)
    server.start()
    try:
        server.http.post("/mock/rules", json={"tool": yaml.safe_load(tools.read_text(encoding="utf-8"))["tool"]})
        agent = server.start_plugin(Path(__file__).parent / "plugins" / "simple_agent", python=sdk_python)
        chunks = react(server, agent, "What time is it in Lima?", [CLOCK])
        return texts(chunks), server.journal(kind="reverse", type="llm")
    finally:
        server.stop()


def test_a_recorded_multi_turn_run_replays_turn_for_turn(tmp_path, sdk_python):
    standin = StandIn(api_key_env=KEY_ENV, env={KEY_ENV: KEY})
    config = write_config(tmp_path, standin.url)
    cassettes = tmp_path / "cassettes"
    try:
        # the stand-in asks current_time with {"query": ...}: the fixture's clock rule wants a timezone, so the
        # built-in tool answer (an echo of the call) is the observation
        recorded, live_calls = run_recorded(
            tmp_path / "record", sdk_python, ["--config", str(config), "--record", str(cassettes)], {KEY_ENV: KEY}
        )
    finally:
        standin.stop()
    assert [call["answered_by"] for call in live_calls] == ["backend:standin", "backend:standin"]
    assert recorded.startswith("The tool said: ")
    cassette = yaml.safe_load((cassettes / "cassette.yaml").read_text(encoding="utf-8"))
    turns = [entry["request"]["prompt_messages"] for entry in cassette["entries"]]
    assert [[m["role"] for m in turn] for turn in turns] == [
        ["system", "user"],
        ["system", "user", "assistant", "user"],
    ]
    assert "Observation:" in turns[1][2]["content"]
    assert KEY not in json.dumps(cassette)

    replayed, calls = run_recorded(
        tmp_path / "replay", sdk_python, ["--config", str(config), "--replay", str(cassettes)], {}
    )
    assert replayed == recorded
    assert [call["answered_by"] for call in calls] == ["replay:cassette#1", "replay:cassette#2"]
    assert [call["request"]["prompt_messages"] for call in calls] == [
        c["request"]["prompt_messages"] for c in live_calls
    ]
