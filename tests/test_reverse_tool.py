"""The reverse `tool` call: a real SDK agent strategy calls `session.tool.invoke(...)` and the mock answers."""

from __future__ import annotations

import base64
import json
import subprocess
from typing import Any

import pytest
from dify_mock.testing import MockServer, PluginError, PluginProcess

PROVIDER = "simple_agent"
MODEL = {
    "provider": "langgenius/openai/openai",
    "model": "gpt-4o-mini",
    "model_type": "llm",
    "mode": "chat",
    "completion_params": {"temperature": 0},
    "history_prompt_messages": [],
}


def i18n(text: str) -> dict[str, str]:
    return {"en_US": text}


def tool_entity(
    provider: str,
    name: str,
    parameters: dict[str, str],
    *,
    runtime_parameters: dict[str, Any] | None = None,
    credential_id: str | None = None,
) -> dict[str, Any]:
    """A ToolEntity as Dify's agent node sends it in an `array[tools]` parameter; parameters: name -> type."""
    entity: dict[str, Any] = {
        "identity": {"author": "langgenius", "name": name, "label": i18n(name), "provider": provider},
        "parameters": [
            {
                "name": parameter,
                "label": i18n(parameter),
                "human_description": i18n(f"the {parameter}"),
                "llm_description": f"the {parameter}",
                "type": kind,
                "form": "llm",
                "required": True,
            }
            for parameter, kind in parameters.items()
        ],
        "description": {"human": i18n(f"the {name} tool"), "llm": f"Calls {name}."},
        "provider_type": "builtin",
        "runtime_parameters": runtime_parameters or {},
    }
    if credential_id is not None:
        entity["credential_id"] = credential_id
    return entity


CLOCK = tool_entity(
    "time", "current_time", {"timezone": "string"}, runtime_parameters={"format": "%H:%M"}, credential_id="cred-7"
)
REPORT = tool_entity("reports", "fetch_report", {"pages": "number", "draft": "boolean"})


def run_agent(mock: MockServer, agent: PluginProcess, query: str, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    params = {"model": MODEL, "tools": tools, "query": query, "max_iterations": 3}
    return mock.invoke_agent_strategy(agent.plugin_id, PROVIDER, "function_calling", params)


def texts(chunks: list[dict[str, Any]]) -> str:
    return "".join(chunk["message"]["text"] for chunk in chunks if chunk["type"] == "text")


def tool_logs(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The `data` of each log the strategy writes after a tool call (tool, arguments, result)."""
    return [chunk["message"]["data"] for chunk in chunks if chunk["type"] == "log"]


def reverse_calls(mock: MockServer) -> list[dict[str, Any]]:
    return mock.journal(kind="reverse")


@pytest.mark.mock_server(fixtures=["fixtures/agent.yaml"])
def test_the_agent_calls_a_tool_and_the_model_sees_its_result(mock_server, simple_agent):
    chunks = run_agent(mock_server, simple_agent, "What is the time in UTC?", [CLOCK])
    assert texts(chunks) == "It is 12:00 in UTC."
    [log] = tool_logs(chunks)
    assert log["tool"] == "current_time" and json.loads(log["arguments"]) == {"timezone": "UTC"}
    assert log["result"] == '12:00 UTC\n{"hour": 12}'

    calls = reverse_calls(mock_server)
    assert [(c["type"], c["answered_by"]) for c in calls] == [
        ("llm", "rule:ask-clock"),
        ("tool", "rule:clock"),
        ("llm", "rule:ask-clock"),
    ]
    tool = calls[1]
    assert tool["request"]["tool_type"] == "builtin"
    assert tool["request"]["provider"] == "time" and tool["request"]["tool"] == "current_time"
    # the strategy adds the tool's runtime parameters to what the model asked for
    assert tool["request"]["tool_parameters"] == {"format": "%H:%M", "timezone": "UTC"}
    assert tool["request"]["credential_id"] == "cred-7"
    assert tool["response"] == [
        {"type": "text", "message": {"text": "12:00 UTC"}, "meta": None},
        {"type": "json", "message": {"json_object": {"hour": 12}}, "meta": None},
    ]
    assert tool["error"] is None

    prompt = calls[2]["request"]["prompt_messages"]
    assert [m["role"] for m in prompt] == ["user", "assistant", "tool"]
    assert prompt[1]["tool_calls"][0]["function"]["name"] == "current_time"
    assert prompt[2]["content"] == '12:00 UTC\n{"hour": 12}'
    assert prompt[2]["tool_call_id"] == prompt[1]["tool_calls"][0]["id"]


@pytest.mark.mock_server(fixtures=["fixtures/agent.yaml"])
def test_without_a_matching_tool_rule_the_builtin_answer_echoes_the_call(mock_server, simple_agent):
    chunks = run_agent(mock_server, simple_agent, "What is the time in Paris?", [CLOCK])
    assert texts(chunks) == "Done."
    parameters = {"format": "%H:%M", "timezone": "Europe/Paris"}
    echo = f"time/current_time called with {json.dumps(parameters, sort_keys=True)}"
    [log] = tool_logs(chunks)
    assert log["result"].split("\n")[0] == echo
    tool = mock_server.journal(kind="reverse", type="tool")[-1]
    assert tool["answered_by"] == "builtin"
    assert tool["response"] == [
        {"type": "text", "message": {"text": echo}, "meta": None},
        {
            "type": "json",
            "message": {
                "json_object": {
                    "provider": "time",
                    "tool": "current_time",
                    "tool_type": "builtin",
                    "parameters": parameters,
                }
            },
            "meta": None,
        },
    ]


@pytest.mark.mock_server(fixtures=["fixtures/agent.yaml"], strict=True)
def test_strict_mode_fails_the_tool_call_naming_the_nearest_rule(mock_server, simple_agent):
    with pytest.raises(PluginError) as failure:
        run_agent(mock_server, simple_agent, "What is the time in Paris?", [CLOCK])
    relayed = failure.value.message  # the daemon quotes Dify's 400 body: our message is in its JSON
    assert "invoke tool failed: request failed with status code: 400 and respond with: {" in relayed
    message = json.loads(relayed[relayed.index("{") : relayed.rindex("}") + 1])["message"]
    assert "--strict" in message and "clock" in message
    assert 'parameters.timezone: wanted "UTC", got "Europe/Paris"' in message
    tool = mock_server.journal(kind="reverse", type="tool")[-1]
    assert tool["answered_by"] == "strict"
    assert tool["error"].startswith("no fixture rule answers this call (--strict).")  # the answerer's own words


@pytest.mark.mock_server(fixtures=["fixtures/agent.yaml"])
def test_a_scripted_tool_error_reaches_the_plugin(mock_server, simple_agent):
    with pytest.raises(PluginError) as failure:
        run_agent(mock_server, simple_agent, "Is the clock broken?", [CLOCK])
    assert "unknown time zone (scripted)" in failure.value.message
    tool = mock_server.journal(kind="reverse", type="tool")[-1]
    assert tool["answered_by"] == "rule:no-such-zone"
    assert tool["error"] == "unknown time zone (scripted)"
    assert "invoke tool failed: request failed with status code: 400" in failure.value.message


# What the plugin's SDK makes of the tool messages: parsed by the real ToolInvokeMessage in the SDK's Python.
SDK_PARSE = """
import json, sys
from dify_plugin.entities.tool import ToolInvokeMessage
out = []
for raw in json.load(sys.stdin):
    message = ToolInvokeMessage(**raw)
    body = message.message
    out.append({
        "type": message.type.value,
        "class": type(body).__name__,
        "blob_hex": body.blob.hex() if hasattr(body, "blob") else None,
        "body": None if body is None or hasattr(body, "blob") else body.model_dump(mode="json"),
        "meta": message.meta,
    })
print(json.dumps(out))
"""


def sdk_parse(sdk_python: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sdk_python, "-c", SDK_PARSE], input=json.dumps(messages), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    parsed: list[dict[str, Any]] = json.loads(done.stdout)
    return parsed


@pytest.mark.mock_server(fixtures=["fixtures/agent.yaml"])
def test_blobs_variables_links_files_and_logs_reach_the_plugin_intact(mock_server, simple_agent, sdk_python):
    chunks = run_agent(mock_server, simple_agent, "Fetch the quarterly report", [REPORT])
    assert texts(chunks) == "The report is ready."
    [log] = tool_logs(chunks)
    # the strategy flattens blobs to one "[binary data]" and shows variables as "name: value"
    assert log["result"].split("\n") == [
        "[binary data]",
        "pages: 3",
        "summary: three pages",
        "https://example.com/report",
        "[file]",
    ]
    tool = mock_server.journal(kind="reverse", type="tool")[-1]
    assert tool["answered_by"] == "rule:report"
    assert tool["request"]["tool_parameters"] == {"pages": 3, "draft": False}

    parsed = sdk_parse(sdk_python, tool["response"])
    assert [(p["type"], p["class"]) for p in parsed] == [
        ("blob", "BlobMessage"),
        ("blob", "BlobMessage"),
        ("variable", "VariableMessage"),
        ("variable", "VariableMessage"),
        ("link", "TextMessage"),
        ("file", "NoneType"),
        ("log", "LogMessage"),
    ]
    first, second, pages, summary, link, file, logged = parsed
    assert bytes.fromhex(first["blob_hex"]) == base64.b64decode("AAEC/f7/") == b"\x00\x01\x02\xfd\xfe\xff"
    assert first["meta"] == {"mime_type": "application/octet-stream"}
    assert bytes.fromhex(second["blob_hex"]).decode("utf-8") == "héllo report"
    assert second["meta"] == {"mime_type": "text/plain", "file_name": "report.txt"}
    assert pages["body"] == {"variable_name": "pages", "variable_value": 3, "stream": False}
    assert summary["body"] == {"variable_name": "summary", "variable_value": "three pages", "stream": True}
    assert link["body"] == {"text": "https://example.com/report"}
    assert file["meta"] == {"file": {"url": "https://example.com/report.pdf", "filename": "report.pdf"}}
    assert logged["body"]["label"] == "fetched" and logged["body"]["status"] == "success"
    assert logged["body"]["data"] == {"pages": 3} and logged["body"]["id"] == "log_7"


def test_a_blob_that_looks_like_text_is_still_base64_on_the_wire(sdk_python):
    """The SDK decodes any `blob` that parses as base64: a raw "abcd" would arrive as 3 other bytes."""
    from dify_mock.answers.replies import ToolReply
    from dify_mock.reverse.tools import render_tool_reply

    reply = ToolReply.model_validate({"messages": [{"type": "blob", "text": "abcd"}]})
    [parsed] = sdk_parse(sdk_python, list(render_tool_reply(reply)))
    assert bytes.fromhex(parsed["blob_hex"]) == b"abcd"


def test_the_echo_strategy_needs_no_tools(mock_server, simple_agent):
    chunks = mock_server.invoke_agent_strategy(
        simple_agent.plugin_id, PROVIDER, "echo", {"model": MODEL, "query": "Tell me about penguins"}
    )
    text = texts(chunks)
    assert "penguins" in text
    calls = reverse_calls(mock_server)
    assert [(c["type"], c["answered_by"]) for c in calls] == [("llm", "builtin")]
    assert calls[0]["request"]["prompt_messages"][-1]["content"] == "Tell me about penguins"
