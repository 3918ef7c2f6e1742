"""A plugin that dies mid-stream, never answers, or reconnects in a loop: callers get clear errors, the mock stays up."""

from __future__ import annotations

import threading
import time

import pytest
from dify_mock.testing import MockServer, PluginError
from wire_plugin import WirePlugin


def invoke_in_background(mock: MockServer, plugin_id: str) -> tuple[threading.Thread, list[object]]:
    results: list[object] = []

    def run() -> None:
        try:
            results.append(mock.invoke_tool(plugin_id, "wire", "noop", {}))
        except Exception as error:
            results.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results


def test_a_plugin_killed_mid_stream_fails_its_stream_with_a_clear_error(mock_server):
    wire = WirePlugin(mock_server.debug_port)
    wire.register()
    assert mock_server.wait_for_plugin("wire/wire_plugin", timeout=60)
    thread, results = invoke_in_background(mock_server, "wire/wire_plugin")
    request = wire.read_message()
    wire.session(request["session_id"], "stream", {"type": "text", "message": {"text": "first"}, "meta": None})
    time.sleep(0.2)
    wire.close()
    thread.join(60)
    assert isinstance(results[0], PluginError)
    assert results[0].error_type == "ConnectionClosedError"
    entry = mock_server.journal(kind="dispatch")[-1]
    assert entry["response"] == [{"type": "text", "message": {"text": "first"}, "meta": None}]
    assert "ConnectionClosedError" in entry["error"]


@pytest.mark.mock_server(extra_args=["--invoke-timeout", "1"])
def test_a_plugin_that_never_answers_is_given_up_on_after_the_timeout(mock_server):
    wire = WirePlugin(mock_server.debug_port)
    wire.register()
    assert mock_server.wait_for_plugin("wire/wire_plugin", timeout=60)
    thread, results = invoke_in_background(mock_server, "wire/wire_plugin")
    wire.read_message()
    thread.join(60)
    assert isinstance(results[0], PluginError)
    assert "killed by timeout" in results[0].message
    # the connection itself stays usable
    thread, results = invoke_in_background(mock_server, "wire/wire_plugin")
    request = wire.read_message()
    wire.session(request["session_id"], "end", {})
    thread.join(60)
    assert results == [[]]
    wire.close()


def test_a_plugin_reconnecting_in_a_loop_leaves_one_registration_and_no_open_sessions(mock_server):
    for _ in range(40):
        wire = WirePlugin(mock_server.debug_port)
        wire.register()
        wire.close()
    last = WirePlugin(mock_server.debug_port)
    last.register()
    assert mock_server.wait_for_plugin("wire/wire_plugin", timeout=60)
    time.sleep(0.3)
    assert [p["plugin_id"] for p in mock_server.plugins()] == ["wire/wire_plugin"]
    thread, results = invoke_in_background(mock_server, "wire/wire_plugin")
    request = last.read_message()
    last.session(request["session_id"], "end", {})
    thread.join(60)
    assert results == [[]]
    assert "Traceback" not in mock_server.log()
    last.close()
