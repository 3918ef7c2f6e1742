"""The official agent strategies plugin (dify-official-plugins/agent-strategies/cot_agent) against the mock.

Its code is not part of this repository and nothing here downloads it: `make official-agent OFFICIAL=<checkout>`
runs these tests with $DIFY_MOCK_OFFICIAL_AGENT_PLUGIN naming the plugin's folder and
$DIFY_MOCK_OFFICIAL_AGENT_PYTHON (default: the SDK Python the other tests use) as its interpreter. Without the
variable, tests/conftest.py leaves this folder out of the collection. Each strategy asks the model, runs the tool
the model picks through the reverse `tool` call, and streams the model's final answer back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dify_mock.testing import MockServer, PluginProcess

PLUGIN_ENV = "DIFY_MOCK_OFFICIAL_AGENT_PLUGIN"
PYTHON_ENV = "DIFY_MOCK_OFFICIAL_AGENT_PYTHON"
PROVIDER = "agent"
ANSWER = "It is sunny and 21 °C in Paris."

pytestmark = pytest.mark.mock_server(fixtures=["tests/fixtures/official_agent.yaml"], strict=True)


INPUTS = Path(__file__).parents[1] / "fixtures" / "official_agent"


def model_selector(features: list[str]) -> dict[str, Any]:
    """The `model-selector` value Dify's agent node sends (the README's model.json), with these features.

    No `context_size` in its model properties: with one, the strategies count tokens with tiktoken, which
    downloads its encoding on first use.
    """
    selector = json.loads((INPUTS / "model.json").read_text())
    selector["entity"]["features"] = features
    return selector


@pytest.fixture
def official_agent(mock_server: MockServer, sdk_python: str) -> Iterator[PluginProcess]:
    if not os.environ.get(PLUGIN_ENV):
        pytest.fail(f"set ${PLUGIN_ENV} to the cot_agent folder of a dify-official-plugins checkout", pytrace=False)
    folder = Path(os.environ[PLUGIN_ENV])
    plugin = mock_server.start_plugin(folder, python=os.environ.get(PYTHON_ENV) or sdk_python)
    try:
        yield plugin
    finally:
        plugin.stop()
        print(f"--- end of the {plugin.plugin_id} output ({plugin.output_path}) ---\n{plugin.output()[-8000:]}")


def run(mock: MockServer, agent: PluginProcess, strategy: str, features: list[str]) -> list[dict[str, Any]]:
    params = {
        "model": model_selector(features),
        "tools": json.loads((INPUTS / "tools.json").read_text()),
        "instruction": "Answer weather questions with the get_weather tool.",
        "query": "What is the weather in Paris?",
        "maximum_iterations": 3,
    }
    return mock.invoke_agent_strategy(agent.plugin_id, PROVIDER, strategy, params)


def texts(chunks: list[dict[str, Any]]) -> str:
    return "".join(chunk["message"]["text"] for chunk in chunks if chunk["type"] == "text")


def assert_weather_tool_called(mock: MockServer, rules: str) -> None:
    calls = mock.journal(kind="reverse")
    assert [(call["type"], call["answered_by"]) for call in calls] == [
        ("llm", f"rule:{rules}-ask"),
        ("tool", "rule:weather"),
        ("llm", f"rule:{rules}-answer"),
    ]
    tool = calls[1]["request"]
    assert (tool["tool_type"], tool["provider"], tool["tool"]) == ("builtin", "weather", "get_weather")
    assert tool["tool_parameters"] == {"city": "Paris"}
    assert calls[1]["error"] is None


@pytest.mark.parametrize(
    "features",
    [["tool-call", "multi-tool-call", "stream-tool-call"], ["tool-call", "multi-tool-call"]],
    ids=["streamed", "blocking"],
)
def test_function_calling_runs_the_tool_the_model_calls(mock_server, official_agent, features):
    chunks = run(mock_server, official_agent, "function_calling", features)
    assert texts(chunks).strip() == ANSWER
    assert_weather_tool_called(mock_server, "function-calling")

    llm_calls = mock_server.journal(kind="reverse", type="llm")
    assert all(call["request"]["stream"] == ("stream-tool-call" in features) for call in llm_calls)
    assert [tool["name"] for tool in llm_calls[0]["request"]["tools"]] == ["get_weather"]
    prompt = llm_calls[1]["request"]["prompt_messages"]
    assert [message["role"] for message in prompt] == ["system", "user", "assistant", "tool"]
    assert prompt[2]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert prompt[3]["content"] == "Sunny, 21 °C"


def test_react_parses_the_action_runs_the_tool_and_streams_the_final_answer(mock_server, official_agent):
    chunks = run(mock_server, official_agent, "ReAct", ["tool-call"])
    assert texts(chunks).strip() == ANSWER
    assert_weather_tool_called(mock_server, "react")

    llm_calls = mock_server.journal(kind="reverse", type="llm")
    assert all(call["request"]["stream"] and "Observation" in call["request"]["stop"] for call in llm_calls)
    # the second round carries the scratchpad: the action and the tool's observation
    prompt = llm_calls[1]["request"]["prompt_messages"]
    assert [message["role"] for message in prompt] == ["system", "user", "assistant", "user"]
    assert '"action_name": "get_weather"' in prompt[2]["content"]
    assert "Observation: Sunny, 21 °C" in prompt[2]["content"]
