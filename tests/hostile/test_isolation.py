"""A hostile plugin against the others: it knows their session ids (the journal shows them) and floods.

A session belongs to the connection it was opened on. A reverse call, or a `stream`/`end`, naming another plugin's
session is refused and journalled as refused under the caller; `/backwards-invocation/transaction` serves only a
serverless plugin's open session. The journal keeps a fair share for each plugin, and a plugin's log flood reaches
the journal as a count of what was dropped.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from typing import Any

import pytest
from dify_mock.testing import MockServer
from wire_plugin import WirePlugin

STORAGE = {"storage": {"enabled": True, "size": 1048576}}
TENANTS = ["key-a=tenant-a", "key-b=tenant-b"]


def victim_with_open_session(
    mock: MockServer, name: str = "victim", key: str = "key-a", tenant: str = "tenant-a"
) -> tuple[WirePlugin, concurrent.futures.Future[Any], str]:
    """wire/<name> with the storage permission, a tool call dispatched to it and not yet answered: its session is
    open."""
    victim = WirePlugin(mock.debug_port)
    victim.register(key=key, name=name, permission=STORAGE)
    assert mock.wait_for_plugin(f"wire/{name}", timeout=60, tenant=tenant)
    pool = concurrent.futures.ThreadPoolExecutor(1)
    body = {"provider": "wire", "tool": "noop", "tool_parameters": {}}
    call = pool.submit(mock.dispatch, "tool/invoke", f"wire/{name}", body, tenant=tenant, timeout=60)
    pool.shutdown(wait=False)
    request = victim.read_message(timeout=60)
    assert request["event"] == "request"
    return victim, call, str(request["session_id"])


def read_until_end(plugin: WirePlugin) -> list[dict[str, Any]]:
    messages = []
    while True:
        message = plugin.read_message(timeout=60)
        messages.append(message)
        if message["data"]["event"] == "end":
            return messages


@pytest.mark.mock_server(keys=TENANTS)
def test_another_plugins_session_id_is_refused_for_reverse_calls_and_answers(mock_server):
    victim, call, session_id = victim_with_open_session(mock_server)
    intruder = WirePlugin(mock_server.debug_port)
    intruder.register(key="key-b", name="intruder")  # another tenant, and no storage permission
    assert mock_server.wait_for_plugin("wire/intruder", timeout=60, tenant="tenant-b")

    intruder.invoke(session_id, "storage", {"opt": "set", "key": "k", "value": b"pwned".hex()}, request_id="x1")
    (error, end) = read_until_end(intruder)
    assert error["session_id"] == session_id and error["data"]["event"] == "error"
    assert "is not open on this connection" in error["data"]["message"]
    assert end["data"]["event"] == "end"
    # an answer written into the victim's session does not reach the victim's caller
    intruder.session(session_id, "stream", {"type": "text", "message": {"text": "pwned"}})
    intruder.session(session_id, "end", {})

    victim.invoke(session_id, "storage", {"opt": "get", "key": "k"}, request_id="v1")
    answers = read_until_end(victim)
    assert answers[0]["data"]["event"] == "error"  # nothing was stored under k
    assert "pwned" not in json.dumps(answers) and b"pwned".hex() not in json.dumps(answers)
    victim.session(session_id, "stream", {"type": "text", "message": {"text": "mine"}})
    victim.session(session_id, "end", {})
    chunks = call.result(timeout=60)
    assert [chunk["message"]["text"] for chunk in chunks] == ["mine"]

    refused = [entry for entry in mock_server.journal(plugin_id="wire/intruder") if entry["kind"] == "reverse"]
    assert [(entry["type"], entry["answered_by"]) for entry in refused] == [
        ("storage", "refused"),
        ("session_stream", "refused"),
        ("session_end", "refused"),
    ]
    assert all(entry["session_id"] == session_id and entry["tenant_id"] == "tenant-b" for entry in refused)
    assert "wrote into a session it does not own" in mock_server.log()
    victim.close()
    intruder.close()


def test_a_transaction_naming_a_tcp_plugins_session_is_refused(mock_server):
    victim = WirePlugin(mock_server.debug_port)
    victim.register(name="victim", permission=STORAGE)
    assert mock_server.wait_for_plugin("wire/victim", timeout=60)
    pool = concurrent.futures.ThreadPoolExecutor(1)
    body = {"provider": "wire", "tool": "noop", "tool_parameters": {}}
    call = pool.submit(mock_server.dispatch, "tool/invoke", "wire/victim", body, timeout=60)
    pool.shutdown(wait=False)
    session_id = str(victim.read_message(timeout=60)["session_id"])

    invoke = {"type": "storage", "backwards_request_id": "r" * 32, "request": {"opt": "set", "key": "k", "value": "00"}}
    event = {"event": "session", "session_id": session_id, "data": {"type": "invoke", "data": invoke}}
    for headers in ({}, {"Dify-Plugin-Session-ID": session_id}):
        answer = mock_server.http.post(
            "/backwards-invocation/transaction", content=json.dumps(event) + "\n\n", headers=headers
        )
        assert answer.status_code == 400
        error = json.loads(answer.text.split("\n\n")[0])
        assert error["session_id"] == session_id and error["data"]["event"] == "error"
        assert "failed to get session info from cache" in error["data"]["message"]

    victim.session(session_id, "end", {})
    assert call.result(timeout=60) == []
    refused = [e for e in mock_server.journal(kind="reverse") if e["answered_by"] == "refused"]
    assert [(e["type"], e["session_id"]) for e in refused] == [("storage", session_id)] * 2
    assert not [e for e in mock_server.journal(kind="reverse") if e["answered_by"] == "builtin"]
    victim.close()


@pytest.mark.mock_server(extra_args=["--journal-max-entries", "200"])
def test_a_flooding_plugin_cannot_push_the_others_out_of_the_journal(mock_server):
    quiet = WirePlugin(mock_server.debug_port)
    quiet.register(name="quiet")
    assert mock_server.wait_for_plugin("wire/quiet", timeout=60)
    for number in range(20):
        quiet.send({"event": "log", "data": {"level": "INFO", "message": f"quiet line {number}"}})
    wait_for(lambda: len(mock_server.journal(kind="log", plugin_id="wire/quiet")) == 20, "the quiet plugin's lines")

    flooder, call, session_id = victim_with_open_session(mock_server, "flooder", "any", "default")  # its own session
    calls = 1500
    for number in range(calls):  # each refused for want of the model permission, and journalled
        flooder.invoke(session_id, "llm", {"model": "m", "prompt_messages": []}, request_id=str(number))
    for _ in range(2 * calls):
        flooder.read_message(timeout=60)
    flooder.session(session_id, "end", {})
    assert call.result(timeout=60) == []
    wait_for(lambda: mock_server.journal_summary(plugin_id="wire/flooder")["entries"] >= 150, "the flood's entries")

    kept = mock_server.journal(kind="log", plugin_id="wire/quiet")
    assert [entry["request"]["message"] for entry in kept] == [f"quiet line {number}" for number in range(20)]
    assert mock_server.journal_summary()["entries"] <= 200 + 100  # trimmed in slack, as before
    quiet.close()
    flooder.close()


def test_a_log_flood_is_cut_to_the_rate_with_the_count_of_what_was_dropped(mock_server):
    flooder = WirePlugin(mock_server.debug_port)
    flooder.register(name="flooder")
    assert mock_server.wait_for_plugin("wire/flooder", timeout=60)
    sent = 5000
    for number in range(sent):
        flooder.send({"event": "log", "data": {"level": "INFO", "message": f"flood line {number}"}})

    def summaries() -> list[dict[str, Any]]:
        return [e for e in mock_server.journal(kind="log", plugin_id="wire/flooder") if "floods its output" in str(e)]

    wait_for(lambda: sum(dropped(entry) for entry in summaries()) + lines_kept(mock_server) == sent, "every line")
    assert lines_kept(mock_server) < sent // 10  # 50 a second (--plugin-log-rate), in the seconds the flood took
    assert mock_server.log().count("flood line") == lines_kept(mock_server)
    flooder.close()


def lines_kept(mock: MockServer) -> int:
    return sum("flood line" in e["request"]["message"] for e in mock.journal(kind="log", plugin_id="wire/flooder"))


def dropped(entry: dict[str, Any]) -> int:
    return int(entry["request"]["message"].split("floods its output: ")[1].split(" ")[0])


def wait_for(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
