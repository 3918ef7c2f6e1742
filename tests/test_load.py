"""Hundreds of tool calls in flight at once over several real SDK plugins: every call's chunks reach its own session,
in order, none lost or duplicated, none from another call; in the HTTP answers and in the journal alike.

The load bench (`python -m bench --only load`) runs the same check with 100 plugins and 1,000 calls; this is the size
the suite can afford. Nothing here judges timings.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dify_mock.testing import MockServer, parse_sse_events
from leaving_client import streaming_post

from bench.load_plugin import check_stream, copy_plugin, tool_data
from bench.sse_client import StreamError, post_json

PLUGINS = 6
CALLS = 300
CHUNKS = 8
DELAY_MS = 1  # the plugin sleeps before each chunk, so that the calls of one plugin interleave on its connection


def _start_plugins(mock_server: MockServer, sdk_python: str, tmp_path: Path) -> list[str]:
    folders = {}
    for index in range(PLUGINS):
        folder = tmp_path / f"load_{index}"
        folders[copy_plugin(folder, f"test_load_{index}")] = folder
    with ThreadPoolExecutor(PLUGINS) as pool:  # started together: each SDK takes about a second to start
        list(pool.map(lambda folder: mock_server.start_plugin(folder, python=sdk_python), folders.values()))
    return list(folders)


async def _call_all(port: int, calls: list[tuple[str, str]]) -> list[str | None]:
    """Every call at once, each on a connection of its own (an httpx pool queues them behind its kept connections)."""

    async def call(plugin_id: str, tag: str) -> str | None:
        body = {"user_id": "load-test", "data": tool_data(tag, CHUNKS, DELAY_MS)}
        try:
            status, content = await asyncio.wait_for(
                post_json("127.0.0.1", port, "/plugin/default/dispatch/tool/invoke", body, {"X-Plugin-ID": plugin_id}),
                120,
            )
        except (OSError, StreamError, TimeoutError) as error:
            return f"HTTP client: {error!r}"
        if status != 200:
            return f"HTTP {status}: {content[:300]!r}"
        events = parse_sse_events(content)
        failed = [event for event in events if event.get("code") != 0]
        if failed:
            return f"error event: {failed[0].get('message')}"
        return check_stream(tag, CHUNKS, [event.get("data") for event in events])

    return await asyncio.gather(*(call(plugin_id, tag) for plugin_id, tag in calls))


def _finished_dispatches(mock_server: MockServer) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60  # the journal writes a finished call within 50 ms when idle
    while True:
        entries = [entry for entry in mock_server.journal(kind="dispatch") if entry.get("done")]
        if len(entries) >= CALLS or time.monotonic() > deadline:
            return entries
        time.sleep(0.1)


def test_calls_in_flight_keep_their_own_chunks_in_order(
    mock_server: MockServer, sdk_python: str, tmp_path: Path
) -> None:
    plugin_ids = _start_plugins(mock_server, sdk_python, tmp_path)
    calls = [(plugin_ids[index % PLUGINS], f"call-{index:04d}") for index in range(CALLS)]

    outcomes = asyncio.run(_call_all(mock_server.port, calls))

    problems = {tag: problem for (_, tag), problem in zip(calls, outcomes, strict=True) if problem}
    assert not problems, f"{len(problems)} of {CALLS} calls went wrong, first: {list(problems.items())[:5]}"
    entries = _finished_dispatches(mock_server)
    assert len(entries) == CALLS
    assert len({entry["session_id"] for entry in entries}) == CALLS
    tags = set()
    for entry in entries:
        tag = entry["request"]["tool_parameters"]["tag"]
        tags.add(tag)
        assert entry["error"] is None, f"{tag}: {entry['error']}"
        assert check_stream(tag, CHUNKS, entry["response"]) is None, f"{tag}: {entry['response']}"
    assert tags == {tag for _, tag in calls}


def _texts(*texts: str) -> list[dict[str, Any]]:
    return [{"type": "text", "message": {"text": text}, "meta": None} for text in texts]


def test_the_check_names_what_went_wrong() -> None:
    assert check_stream("a", 3, _texts("a:0", "a:1", "a:2")) is None
    assert "lost 1 of 3: indexes 1" in str(check_stream("a", 3, _texts("a:0", "a:2")))
    assert "duplicated indexes 1" in str(check_stream("a", 3, _texts("a:0", "a:1", "a:1", "a:2")))
    assert "index 1 came after 2" in str(check_stream("a", 3, _texts("a:0", "a:2", "a:1")))
    assert "1 chunks of other calls: b:1" in str(check_stream("a", 3, _texts("a:0", "b:1", "a:1", "a:2")))
    assert "indexes beyond 2: 3" in str(check_stream("a", 3, _texts("a:0", "a:1", "a:2", "a:3")))
    assert "chunk 0 is not a sequence text message" in str(check_stream("a", 1, [{"type": "json", "message": {}}]))


def test_a_client_that_leaves_mid_stream_leaves_the_call_whole_and_the_server_serving(
    mock_server: MockServer, sdk_python: str, tmp_path: Path
) -> None:
    plugin_id = copy_plugin(tmp_path / "leaver", "test_load_leaver")
    mock_server.start_plugin(tmp_path / "leaver", python=sdk_python)
    body = {"user_id": "leaver", "data": tool_data("left", 20, 25)}
    path, headers = "/plugin/default/dispatch/tool/invoke", {"X-Plugin-ID": plugin_id}
    with streaming_post(mock_server.port, path, body, headers, until=b"left:0"):
        pass  # leave once the first event has come
    # The call runs to its end without anyone reading it; the journal has it whole.
    deadline = time.monotonic() + 60
    while not (entries := [entry for entry in mock_server.journal(kind="dispatch") if entry.get("done")]):
        assert time.monotonic() < deadline, "the call did not finish after its client left"
        time.sleep(0.1)
    assert entries[0]["error"] is None and check_stream("left", 20, entries[0]["response"]) is None

    events = mock_server.invoke_tool(plugin_id, "load", "sequence", tool_data("after", 3)["tool_parameters"])
    assert check_stream("after", 3, events) is None
