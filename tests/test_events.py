"""`/mock/events` (server push for the dashboard and `journal --follow`) and the audio of TTS entries."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import miniaudio
import pytest
from conftest import TEST_PLUGINS
from dify_mock.testing import MockServer

MODEL_CALLER = "dify-mock-tests/model_caller"


def events(response: httpx.Response) -> Iterator[tuple[str, dict[str, object]]]:
    name, data = "message", []
    for line in response.iter_lines():
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


def read_until(stream: Iterator[tuple[str, dict[str, object]]], wanted: str) -> list[tuple[str, dict[str, object]]]:
    seen = []
    for name, data in stream:
        seen.append((name, data))
        if name == wanted:
            return seen
    raise AssertionError(f"the stream ended before a {wanted!r} event; got {[n for n, _ in seen]}")


def wait_for_subscribers(server: MockServer, count: int) -> int:
    deadline = time.monotonic() + 60
    while True:
        now = server.http.get("/mock/events/subscribers").json()["subscribers"]
        if now == count or time.monotonic() > deadline:
            return int(now)
        time.sleep(0.05)


def test_plugins_calls_and_chunks_are_pushed_live_and_a_closed_stream_is_freed(mock_server, sdk_python):
    timeout = httpx.Timeout(10, read=30)
    with (
        httpx.Client(base_url=mock_server.url, timeout=timeout) as client,
        client.stream("GET", "/mock/events", params={"history": 0}) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = events(response)
        snapshot = read_until(stream, "ready")
        assert snapshot[0] == ("plugins", {"plugins": []})
        assert wait_for_subscribers(mock_server, 1) == 1

        mock_server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)
        _, plugin = read_until(stream, "plugin")[-1]
        assert plugin["event"] == "connected"
        tools = plugin["plugin"]["declaration"]["tools"][0]["tools"]  # type: ignore[index]
        assert "llm" in [tool["identity"]["name"] for tool in tools]

        mock_server.invoke_tool(MODEL_CALLER, "model_caller", "llm", {"prompt": "count to three"})
        seen: list[tuple[str, dict[str, object]]] = []
        while not any(n == "finished" and d["type"] == "invoke_tool" for n, d in seen):
            seen += read_until(stream, "finished")
    names = [(name, data.get("type")) for name, data in seen if name != "chunk"]
    assert names == [
        ("started", "invoke_tool"),
        ("started", "llm"),
        ("finished", "llm"),
        ("finished", "invoke_tool"),
    ]
    started = {data["type"]: data["id"] for name, data in seen if name == "started"}
    llm_chunks = [data for name, data in seen if name == "chunk" and data["id"] == started["llm"]]
    assert len(llm_chunks) > 3 and [chunk["index"] for chunk in llm_chunks] == list(range(len(llm_chunks)))
    finished_llm = next(data for name, data in seen if name == "finished" and data["type"] == "llm")
    assert finished_llm["answered_by"] == "builtin" and finished_llm["done"] is True
    assert wait_for_subscribers(mock_server, 0) == 0  # the client went away mid-stream: its queue is gone


def test_history_filters_long_values_cut_unless_full_and_tts_audio_as_mp3(mock_server, model_caller):
    mock_server.invoke_tool(MODEL_CALLER, "model_caller", "tts", {"text": "hello there"})
    mock_server.invoke_tool(MODEL_CALLER, "model_caller", "moderation", {"text": "fine"})
    with httpx.Client(base_url=mock_server.url, timeout=30) as client:
        with client.stream("GET", "/mock/events", params={"type": "tts"}) as response:
            history = [data for name, data in read_until(events(response), "ready") if name == "entry"]
        assert [entry["type"] for entry in history] == ["tts"]
        chunk = history[0]["response"][0]["result"]  # type: ignore[index]
        assert "characters)" in chunk and len(chunk) < 500
        with client.stream("GET", "/mock/events", params={"type": "tts", "full": "true"}) as response:
            full = [data for name, data in read_until(events(response), "ready") if name == "entry"]
        assert bytes.fromhex(full[0]["response"][0]["result"])  # type: ignore[index]

    tts = mock_server.journal(kind="reverse", type="tts")[0]
    response = mock_server.http.get(f"/mock/journal/{tts['id']}/audio")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/mpeg"
    decoded = miniaudio.decode(response.content)
    assert decoded.num_frames > 0

    tool_call = mock_server.journal(kind="dispatch")[0]
    refused = mock_server.http.get(f"/mock/journal/{tool_call['id']}/audio")
    assert refused.status_code == 404 and "holds no audio" in refused.json()["error"]


@pytest.mark.mock_server(server_key="api-secret")
def test_browser_routes_take_the_server_key_as_a_query_parameter(mock_server):
    assert mock_server.http.get("/mock/info").status_code == 401
    assert mock_server.http.get("/mock/info", params={"key": "api-secret"}).status_code == 200
    with mock_server.http.stream("GET", "/mock/events", params={"key": "wrong"}) as response:
        assert response.status_code == 401
    assert mock_server.http.get("/").status_code == 200  # the page itself holds no data
