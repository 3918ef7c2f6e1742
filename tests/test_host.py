"""The host side of remote debugging: registration, keys, heartbeats, disconnects and bad input."""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from conftest import TEST_PLUGINS
from dify_mock.testing import MockServer, PluginError
from wire_plugin import WirePlugin


def plugin_entry(mock: MockServer, plugin_id: str, tenant: str | None = None) -> dict:
    return next(p for p in mock.plugins(tenant) if p["plugin_id"] == plugin_id)


def test_a_real_plugin_registers_with_every_declaration(mock_server, model_caller):
    entry = plugin_entry(mock_server, "dify-mock-tests/model_caller")
    declaration = entry["declaration"]
    assert declaration["manifest"]["author"] == "dify-mock-tests"
    tools = declaration["tools"][0]["tools"]
    assert {tool["identity"]["name"] for tool in tools} >= {"llm", "embed", "tts", "fail"}
    llm = next(tool for tool in tools if tool["identity"]["name"] == "llm")
    assert "prompt" in [parameter["name"] for parameter in llm["parameters"]]
    assert entry["assets"] == ["icon.svg"]
    assert entry["identity"].startswith("dify-mock-tests/model_caller:0.0.1@")
    assert entry["transport"] == "tcp"


def test_agent_strategy_plugin_registers_and_is_driven(mock_server, simple_agent):
    declaration = plugin_entry(mock_server, simple_agent.plugin_id)["declaration"]
    assert declaration["agent_strategies"][0]["identity"]["name"] == "simple_agent"
    params = {"model": {"provider": "openai", "model": "gpt-4o-mini", "mode": "chat"}, "query": "hello agent"}
    chunks = mock_server.invoke_agent_strategy(simple_agent.plugin_id, "simple_agent", "echo", params)
    text = "".join(c["message"]["text"] for c in chunks if c["type"] == "text")
    assert "hello" in text
    assert mock_server.journal(kind="reverse", type="llm")


def test_a_reconnecting_plugin_keeps_its_identity(mock_server, sdk_python):
    first = mock_server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)
    identity = plugin_entry(mock_server, first.plugin_id)["identity"]
    first.stop()
    assert mock_server.wait_for_plugin(first.plugin_id, present=False, timeout=60)
    second = mock_server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)
    assert plugin_entry(mock_server, second.plugin_id)["identity"] == identity


@pytest.mark.mock_server(keys=["team-key=team-a"])
def test_a_key_maps_the_plugin_to_its_tenant(mock_server, sdk_python):
    plugin = mock_server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python, key="team-key")
    assert mock_server.plugins("team-a")[0]["plugin_id"] == plugin.plugin_id
    assert mock_server.plugins("default") == []
    chunks = mock_server.invoke_tool(plugin.plugin_id, "model_caller", "moderation", {"text": "hi"}, tenant="team-a")
    assert chunks[0]["message"]["json_object"] == {"flagged": False}


@pytest.mark.mock_server(keys=["right-key"])
def test_an_unknown_key_is_refused_without_a_reconnect_storm(mock_server, sdk_python):
    plugin = mock_server.launch_plugin(TEST_PLUGINS / "model_caller", python=sdk_python, key="wrong-key")
    plugin.wait_for_output("handshake failed, invalid key")
    # the refusal leaves the socket open: the SDK stays connected and quiet instead of reconnecting
    assert plugin.alive()
    log = mock_server.log()
    assert log.count("refused plugin dify-mock-tests/model_caller") == 1
    assert "wrong-key" not in log
    assert mock_server.plugins() == []


def test_a_plugin_error_is_reported_the_way_the_daemon_reports_it(mock_server, model_caller):
    with pytest.raises(PluginError) as failure:
        mock_server.invoke_tool(model_caller.plugin_id, "model_caller", "fail", {})
    assert failure.value.error_type == "ValueError"
    assert failure.value.message == "asked to fail"
    assert failure.value.code == -500
    entry = mock_server.journal(kind="dispatch")[-1]
    assert entry["error"] == "ValueError: asked to fail" and entry["answered_by"] == "plugin"


def test_credential_validation_good_and_bad(mock_server, model_caller):
    good = mock_server.validate_tool_credentials(model_caller.plugin_id, "model_caller", {"api_key": "fine"})
    assert good == [{"result": True}]
    with pytest.raises(PluginError) as failure:
        mock_server.validate_tool_credentials(model_caller.plugin_id, "model_caller", {"api_key": "bad"})
    assert failure.value.error_type == "ToolProviderCredentialValidationError"
    request = mock_server.journal(kind="dispatch")[-1]["request"]
    assert request["credentials"] == {"api_key": "***"}
    assert "bad" not in mock_server.log()


def test_dispatch_refuses_bad_requests_with_clear_messages(mock_server, model_caller):
    http = mock_server.http
    url = "/plugin/default/dispatch/tool/invoke"
    good = {"user_id": "u", "data": {"provider": "model_caller", "tool": "fail", "tool_parameters": {}}}
    missing_header = http.post(url, json=good)
    assert missing_header.status_code == 400 and "X-Plugin-ID" in missing_header.json()["message"]
    unknown = http.post(url, json=good, headers={"X-Plugin-ID": "someone/else"})
    assert unknown.status_code == 404 and "someone/else" in unknown.json()["message"]
    assert "PluginNotFoundError" in unknown.json()["message"]
    headers = {"X-Plugin-ID": model_caller.plugin_id}
    bad_json = http.post(url, content=b"{nope", headers={**headers, "Content-Type": "application/json"})
    # the daemon binds nothing from a body that is not JSON, then names every required field it lacks
    assert bad_json.status_code == 400 and "Field validation for 'Provider' failed" in bad_json.json()["message"]
    no_tool = http.post(url, json={"data": {"provider": "model_caller"}}, headers=headers)
    assert no_tool.status_code == 400 and "Field validation for 'Tool' failed" in no_tool.json()["message"]
    route = http.post("/plugin/default/dispatch/nope/invoke", json=good, headers=headers)
    assert route.status_code == 404 and "nope/invoke" in route.json()["message"]
    # the plugin is still served after all that
    assert mock_server.invoke_tool(model_caller.plugin_id, "model_caller", "moderation", {"text": "ok"})


@pytest.mark.mock_server(server_key="let-me-in")
def test_a_server_key_guards_the_plugin_api(mock_server):
    response = mock_server.http.get("/plugin/default/management/list")
    assert response.status_code == 401
    assert "PluginDaemonUnauthorizedError" in response.json()["message"]
    assert mock_server.plugins() == []  # the harness sends the key
    assert mock_server.http.get("/health/check").status_code == 200


def test_malformed_lines_are_skipped_and_the_plugin_keeps_working(mock_server):
    wire = WirePlugin(mock_server.debug_port)
    wire.register(permission={"model": {"enabled": True, "llm": True}})
    assert mock_server.wait_for_plugin("wire/wire_plugin", timeout=60)
    wire.send(b"this is not json")
    wire.send(b'{"event": "nonsense"}')
    wire.send(b"\xff\xfe\x00 invalid utf-8")
    wire.send(b"[1, 2, 3]")
    wire.send(b"{" * 5000 + b"}" * 5000)
    session_id = str(uuid.uuid4())
    wire.invoke(session_id, "llm", {"model": "m", "prompt_messages": [{"role": "user", "content": "hi"}]})
    # the session is not one the host opened: the call is answered with an error, not left hanging
    answer = wire.read_message()
    assert answer["event"] == "backwards_response" and answer["data"]["event"] == "error"
    assert "is not open" in answer["data"]["message"]
    assert wire.read_message()["data"]["event"] == "end"
    assert "wire/wire_plugin" in mock_server.plugin_ids()
    wire.close()


def test_permissions_and_unknown_invoke_types_are_refused_with_the_daemons_messages(mock_server):
    wire = WirePlugin(mock_server.debug_port)
    wire.register(permission={"tool": {"enabled": True}})
    assert mock_server.wait_for_plugin("wire/wire_plugin", timeout=60)
    import threading

    results: list = []
    invoke = threading.Thread(
        target=lambda: results.append(_capture(lambda: mock_server.invoke_tool("wire/wire_plugin", "wire", "noop", {})))
    )
    invoke.start()
    request = wire.read_message()
    session_id = request["session_id"]
    assert request["data"]["action"] == "invoke_tool"
    wire.invoke(session_id, "llm", {"model": "m", "prompt_messages": []}, request_id="a")
    denied = wire.read_message()
    assert denied["data"] == {
        "backwards_request_id": "a",
        "event": "error",
        "message": "permission denied, you need to enable llm access in plugin manifest",
        "data": None,
    }
    assert wire.read_message()["data"]["event"] == "end"
    wire.invoke(session_id, "teleport", {}, request_id="b")
    assert wire.read_message()["data"]["message"] == "unsupported invoke type: teleport"
    assert wire.read_message()["data"]["event"] == "end"
    wire.session(session_id, "stream", {"type": "text", "message": {"text": "done"}, "meta": None})
    wire.session(session_id, "end", {})
    invoke.join(60)
    assert results == [[{"type": "text", "message": {"text": "done"}, "meta": None}]]
    wire.close()


def _capture(call):
    try:
        return call()
    except Exception as error:
        return error


def test_a_disconnect_fails_in_flight_invocations(mock_server):
    wire = WirePlugin(mock_server.debug_port)
    wire.register()
    assert mock_server.wait_for_plugin("wire/wire_plugin", timeout=60)
    import threading

    results: list = []
    invoke = threading.Thread(
        target=lambda: results.append(_capture(lambda: mock_server.invoke_tool("wire/wire_plugin", "wire", "noop", {})))
    )
    invoke.start()
    wire.read_message()
    wire.close()
    invoke.join(60)
    assert isinstance(results[0], PluginError)
    assert results[0].error_type == "ConnectionClosedError"
    assert mock_server.wait_for_plugin("wire/wire_plugin", present=False, timeout=60)


@pytest.mark.mock_server(extra_args=["--heartbeat-timeout", "1"])
def test_a_silent_plugin_is_dropped(mock_server):
    wire = WirePlugin(mock_server.debug_port)
    wire.register()
    # it may be listed and dropped between two polls of the list: the log has both events, in order
    log = mock_server.wait_for_log("no heartbeat for 1 s")
    assert "wire/wire_plugin" in next(line for line in log.splitlines() if "no heartbeat for 1 s" in line)
    assert mock_server.wait_for_plugin("wire/wire_plugin", present=False)
    with pytest.raises(ConnectionError):
        wire.read_message(timeout=2)


def test_a_bad_handshake_is_answered_in_plain_text_and_closed(mock_server):
    with socket.create_connection(("127.0.0.1", mock_server.debug_port), timeout=60) as raw:
        raw.sendall(b"GET / HTTP/1.1\r\n\r\n\n")
        assert raw.recv(1024) == b"handshake failed, invalid handshake message\n"
        assert raw.recv(1024) == b""
    wire = WirePlugin(mock_server.debug_port)
    wire.send({"type": "handshake", "data": {"key": "k"}})
    wire.send({"type": "manifest_declaration", "data": {"author": "Bad Author!", "name": "x"}})
    wire.send({"type": "end", "data": {}})
    assert "invalid manifest detected" in wire.read_text()
    assert mock_server.plugins() == []
    wire.close()


def test_many_plugins_at_once(mock_server):
    wires = []
    for index in range(20):
        wire = WirePlugin(mock_server.debug_port)
        wire.register(name=f"wire_{index}")
        wires.append(wire)
    deadline = time.monotonic() + 60
    while len(mock_server.plugins()) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(mock_server.plugins()) == 20
    for wire in wires:
        wire.close()
