"""Memory that follows the bytes sent (issue 28): each hostile load of the issue, from raw loopback sockets, against
one mock with its default bounds, while a well-behaved SDK plugin's tool is called one call after another.

In each test the mock's resident memory (its peak, VmHWM, reset before the load) stays under 300 MB, every call of the
well-behaved plugin is answered, and the hostile side is refused, paused or dropped as docs/security.md ("Limits")
says. The loads check the mock's memory as they send and stop at the limit, so that against code without the bounds
a test fails there instead of filling the machine. Nothing is timed: the bench section `hostile` measures the calls'
latency under each load (`python -m bench --only hostile`).
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import TEST_PLUGINS
from dify_mock.testing import MockServer, PluginError, parse_sse_events
from test_run import (
    RunServer,
    copy_plugin,
    run_server,  # noqa: F401 - a fixture, for the last test
    start,
    wait_for,
)

from bench.hostile_loads import (
    LLM_REQUEST,
    MIB,
    TTS_REQUEST,
    CalmCaller,
    Memory,
    WireSession,
    big_bodies,
    big_heads,
    big_prompt,
    endless_registrations,
    read_until_closed,
    stalled_bodies,
    stalled_event_streams,
    status_of,
    unkeyed_floods,
)
from bench.load_plugin import check_stream, tool_data
from bench.load_plugin import copy_plugin as copy_load_plugin

LIMIT_MB = 300
KEY = "calm-key"
SHORT = "3"  # seconds: --request-read-timeout and --registration-timeout, so that what they end ends soon


class Mock:
    def __init__(self, server: MockServer, plugin_id: str) -> None:
        self.server = server
        self.plugin_id = plugin_id
        assert server.process is not None
        self.memory = Memory(server.process.pid)

    def calm_call(self, tag: str) -> str | None:
        """One call of the well-behaved plugin's tool; None when it streamed exactly what it should."""
        body = {"user_id": "calm", "data": tool_data(tag, 3)}
        with httpx.Client(base_url=self.server.url, timeout=60) as client:
            response = client.post(
                "/plugin/default/dispatch/tool/invoke", json=body, headers={"X-Plugin-ID": self.plugin_id}
            )
        if response.status_code != 200:
            return f"HTTP {response.status_code}: {response.text[:200]}"
        return check_stream(tag, 3, [event.get("data") for event in parse_sse_events(response.content)])

    def calm(self) -> CalmCaller:
        return CalmCaller(self.calm_call)

    def listed(self, plugin_id: str) -> None:
        self.server.wait_for_plugin(plugin_id)

    def wait_for_log(self, text: str, done: Callable[[], bool] = lambda: False) -> bool:
        """Whether the mock logs `text`, waiting up to 60 s, or until `done()`."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if text in self.server.log():
                return True
            if done():
                return text in self.server.log()
            time.sleep(0.2)
        return False


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory, sdk_python: str) -> Iterator[Mock]:
    folder = tmp_path_factory.mktemp("bounds")
    limits = {"DIFY_MOCK_REQUEST_READ_TIMEOUT": SHORT, "DIFY_MOCK_REGISTRATION_TIMEOUT": SHORT}
    server = MockServer(folder / "data", keys=[KEY], env=limits).start()
    try:
        plugin_id = copy_load_plugin(folder / "calm", "calm")
        server.start_plugin(folder / "calm", python=sdk_python)
        yield Mock(server, plugin_id)
    finally:
        server.stop()


@pytest.fixture
def bounded(mock: Mock) -> Iterator[Mock]:
    """The mock, its peak memory reset before the test and checked after it; the calm plugin still answering."""
    mock.memory.reset_peak()
    yield mock
    peak = mock.memory.peak_mb()
    assert peak < LIMIT_MB, f"the mock's resident memory peaked at {peak:.0f} MB"
    assert mock.calm_call("after") is None


def _calm_answered(calm: CalmCaller) -> None:
    assert calm.seconds, "no call of the well-behaved plugin was made"
    assert not calm.failures, calm.failures[:3]


def test_four_bodies_of_200_mb_get_413_before_they_are_held(bounded: Mock) -> None:
    with bounded.calm() as calm:
        results = big_bodies(bounded.server.port, 4, 200 * MIB, False, bounded.memory.over(LIMIT_MB))
    _calm_answered(calm)
    for stopped, reply in results:
        assert stopped != "enough", "the mock held the bodies past the memory limit"
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
        assert b"--max-request-body-bytes" in reply


def test_chunked_bodies_that_never_end_get_413_at_the_limit(bounded: Mock) -> None:
    with bounded.calm() as calm:
        results = big_bodies(bounded.server.port, 4, 400 * MIB, True, bounded.memory.over(LIMIT_MB))
    _calm_answered(calm)
    for stopped, reply in results:
        assert stopped == "closed", f"the mock read the endless body until the sender {stopped}"
        assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


def test_heads_of_16_mib_get_431(bounded: Mock) -> None:
    with bounded.calm() as calm:
        results = big_heads(bounded.server.port, 20, 16 * MIB, bounded.memory.over(LIMIT_MB))
    _calm_answered(calm)
    for stopped, reply in results:
        assert stopped != "enough"
        assert reply.startswith(b"HTTP/1.1 431"), reply[:200]


def test_bodies_that_stop_midway_are_answered_408_and_closed(bounded: Mock) -> None:
    with bounded.calm() as calm:
        socks = stalled_bodies(bounded.server.port, 200)
        try:
            replies = [read_until_closed(sock) for sock in socks]
        finally:
            for sock in socks:
                sock.close()
    _calm_answered(calm)
    assert all(reply.startswith(b"HTTP/1.1 408") for reply in replies), {reply[:40] for reply in replies}


def test_connections_with_a_wrong_key_sending_31_mib_without_a_newline_are_dropped(bounded: Mock) -> None:
    with bounded.calm() as calm:
        results = unkeyed_floods(bounded.server.debug_port, 12, 31 * MIB, bounded.memory.over(LIMIT_MB))
    _calm_answered(calm)
    assert results == ["closed"] * 12


def test_registrations_that_never_end_are_closed_at_their_deadline(bounded: Mock) -> None:
    with bounded.calm() as calm:
        replies = endless_registrations(bounded.server.debug_port, KEY, 10, 49 * MIB, bounded.memory.over(LIMIT_MB))
    _calm_answered(calm)
    for reply in replies:
        assert isinstance(reply, bytes), f"a registration without end: {reply!r}"
        assert b"no end within 3 s" in reply or b"server is busy now" in reply, reply[:200]


def test_a_plugin_that_does_not_read_its_answers_is_paused_and_others_are_answered(bounded: Mock) -> None:
    hostile = WireSession(bounded.server.port, bounded.server.debug_port, KEY, "unread_llm", bounded.listed)
    enough = bounded.memory.over(LIMIT_MB)
    flood = threading.Thread(target=hostile.flood, args=("llm", LLM_REQUEST, 300_000, enough), daemon=True)
    flood.start()
    try:
        port = hostile.plugin.sock.getsockname()[1]
        line = f"wire/unread_llm (127.0.0.1:{port}) is not reading its answers"
        paused = bounded.wait_for_log(line, lambda: not flood.is_alive())
        with bounded.calm() as calm:
            for _ in range(3):
                bounded.calm_call("meanwhile")
    finally:
        hostile.close()
        flood.join(60)
    _calm_answered(calm)
    assert hostile.stopped != "enough", "the mock's memory passed the limit"
    assert paused, "the mock went on reading a plugin that reads none of its answers"


def test_tts_answers_left_unread_count_against_the_buffer(bounded: Mock) -> None:
    hostile = WireSession(bounded.server.port, bounded.server.debug_port, KEY, "unread_tts", bounded.listed)
    flood = threading.Thread(
        target=hostile.flood, args=("tts", TTS_REQUEST, 50_000, bounded.memory.over(LIMIT_MB)), daemon=True
    )
    flood.start()
    try:
        line = f"wire/unread_tts (127.0.0.1:{hostile.plugin.sock.getsockname()[1]}) is not reading its answers"
        paused = bounded.wait_for_log(line, lambda: not flood.is_alive())
        with bounded.calm() as calm:
            for _ in range(3):
                bounded.calm_call("meanwhile")
    finally:
        hostile.close()
        flood.join(60)
    _calm_answered(calm)
    assert hostile.stopped != "enough", "the mock's memory passed the limit"
    assert paused, "the mock went on reading a plugin that reads none of its answers"


def test_a_plugin_that_leaves_over_32_mib_unread_is_dropped(bounded: Mock) -> None:
    """Requests to a plugin count too: two of 20 MiB that it never reads are more than the buffer holds."""
    hostile = WireSession(bounded.server.port, bounded.server.debug_port, KEY, "unread_requests", bounded.listed)
    data = {"provider": "wire", "tool": "noop", "tool_parameters": {"blob": "b" * (20 * MIB)}}
    statuses: list[str] = []

    def call() -> None:
        with httpx.Client(base_url=bounded.server.url, timeout=60) as client:
            answer = client.post(
                "/plugin/default/dispatch/tool/invoke",
                json={"user_id": "u", "data": data},
                headers={"X-Plugin-ID": "wire/unread_requests"},
            )
        statuses.append(answer.text)

    with bounded.calm() as calm:
        callers = [threading.Thread(target=call, daemon=True) for _ in range(2)]
        try:
            for caller in callers:
                caller.start()
            for caller in callers:
                caller.join(120)
        finally:
            hostile.close()
    _calm_answered(calm)
    assert "dropping wire/unread_requests" in bounded.server.log()
    # The journal writes the two 20 MiB requests after the calls end: that memory belongs to this test.
    entries = lambda: bounded.server.journal(kind="dispatch", plugin_id="wire/unread_requests")  # noqa: E731
    deadline = time.monotonic() + 60
    while sum(1 for entry in entries() if entry.get("done")) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(statuses) == 2 and all('"code":-500' in text for text in statuses), [text[:300] for text in statuses]
    # each entry keeps the first MiB of the blob and says how much it left out (docs/journal.md)
    note = f"… [{19 * MIB} more characters, not kept in the journal]"
    assert sum(1 for entry in entries() if json.dumps(entry["request"], ensure_ascii=False).count(note) == 1) == 2


def test_a_reverse_call_nested_1100_deep_gets_an_error_answer(bounded: Mock) -> None:
    hostile = WireSession(bounded.server.port, bounded.server.debug_port, KEY, "deep", bounded.listed)
    deep: object = "bottom"
    for _ in range(1100):
        deep = [deep]
    try:
        hostile.plugin.invoke(hostile.session_id, "llm", {**LLM_REQUEST, "deep": deep}, request_id="deep")
        answer = hostile.plugin.read_message(60)
    finally:
        hostile.close()
    assert answer["event"] == "backwards_response"
    assert answer["data"]["backwards_request_id"] == "deep" and answer["data"]["event"] == "error"
    assert "nests deeper than 512 levels (--max-json-depth)" in answer["data"]["message"]


def test_event_streams_of_full_history_that_are_never_read_hold_little(bounded: Mock) -> None:
    filler = WireSession(bounded.server.port, bounded.server.debug_port, KEY, "filler", bounded.listed)
    try:
        filler.answered("llm", big_prompt(25_000), 400)  # about 10 MB of journal entries
    finally:
        filler.close()
    enough = bounded.memory.over(LIMIT_MB)
    socks: list[socket.socket] = []
    with bounded.calm() as calm:
        try:
            for _ in range(60):
                socks += stalled_event_streams(bounded.server.port, 1, "history=10000&full=true")
                assert status_of(socks[-1]) == 200
                assert not enough(), "the mock's memory passed the limit"
        finally:
            for sock in socks:
                sock.close()
    _calm_answered(calm)


def test_event_streams_past_the_bound_get_503_and_health_is_answered(bounded: Mock) -> None:
    open_streams = lambda: bounded.server.http.get("/mock/events/subscribers").json()["subscribers"]  # noqa: E731
    deadline = time.monotonic() + 60  # streams of an earlier test end once the mock writes to them
    while open_streams() and time.monotonic() < deadline:
        time.sleep(0.2)
    with bounded.calm() as calm:
        socks = stalled_event_streams(bounded.server.port, 100, "history=200")
        try:
            answers = [_stream_answer(sock) for sock in socks]
            health = httpx.get(f"{bounded.server.url}/health/check", timeout=60)
        finally:
            for sock in socks:
                sock.close()
    _calm_answered(calm)
    assert health.status_code == 200
    # Streams that passed the route's check together are turned away by their first event, `busy`.
    assert answers.count("stream") == 64 and answers.count("refused") == 36, sorted(set(answers))


def _stream_answer(sock: socket.socket) -> str:
    """`stream` for an event stream that opened, `refused` for a 503 or a stream whose first event is `busy`."""
    sock.settimeout(60)
    received = b""
    while not received.startswith(b"HTTP/1.1 503") and not re.search(rb"event: \w+", received):
        data = sock.recv(4096)
        if not data:
            break
        received += data
    return "refused" if received.startswith(b"HTTP/1.1 503") or b"event: busy" in received else "stream"


def test_the_bounds_are_settings(tmp_path: Path) -> None:
    """Each bound is a flag and a DIFY_MOCK_ variable; one given is the one used (here, the body limit)."""
    with MockServer(tmp_path / "data", env={"DIFY_MOCK_MAX_REQUEST_BODY_BYTES": "1000"}) as server:
        refused = server.http.post("/plugin/default/dispatch/tool/invoke", content=b"{" * 1001)
        taken = server.http.post("/plugin/default/dispatch/tool/invoke", content=json.dumps({"data": {}}))
    assert refused.status_code == 413 and "over the limit of 1000 bytes" in refused.text
    assert taken.status_code == 400


def test_a_local_plugin_writing_a_stdout_line_over_5_mib_is_stopped_as_the_daemon_does(
    run_server: list[RunServer],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    sdk_python: str,
) -> None:
    """The daemon's stdout reader ends at a line over PLUGIN_RUNTIME_MAX_BUFFER_SIZE, and the instance with it."""
    long_line = copy_plugin(
        TEST_PLUGINS / "model_caller",
        tmp_path / "long_line",
        main="import sys, time\nsys.stdout.write('{' + 'x' * (6 * 1024 * 1024) + '}\\n')\nsys.stdout.flush()\n"
        "time.sleep(600)\n",
    )
    server = start(run_server, tmp_path / "mock", long_line, "--python", sdk_python)
    wait_for(lambda: "wrote a stdout line over --max-line-bytes" in server.log(), 60, "the plugin stopped")
    assert "over the limit of 5242880 bytes" in server.log()


HEARTBEATS_ONLY = """\
import json, sys, time
while True:  # ready at its first heartbeat, as the SDK is; and it never reads its stdin
    sys.stdout.write(json.dumps({"event": "heartbeat", "session_id": None, "data": {}}) + "\\n\\n")
    sys.stdout.flush()
    time.sleep(0.5)
"""


def test_a_local_plugin_that_never_reads_its_stdin_is_killed_at_the_bound_and_started_again(
    run_server: list[RunServer],  # noqa: F811 - the fixture imported above
    tmp_path: Path,
    sdk_python: str,
) -> None:
    deaf = copy_plugin(TEST_PLUGINS / "model_caller", tmp_path / "deaf", main=HEARTBEATS_ONLY)
    server = start(run_server, tmp_path / "mock", deaf, "--python", sdk_python, "--max-outgoing-bytes", str(MIB))
    server.wait_for_plugin("dify-mock-tests/model_caller")
    first = server.log().count("started dify-mock-tests/model_caller")
    with pytest.raises(PluginError) as failure:
        server.invoke_tool("dify-mock-tests/model_caller", "model_caller", "llm", {"prompt": "x" * (2 * MIB)})
    assert "does not read its stdin" in str(failure.value)
    log = server.wait_for_log("of its stdin unread, over --max-outgoing-bytes 1048576")
    assert "killing the process of dify-mock-tests/model_caller" in log
    wait_for(
        lambda: server.log().count("started dify-mock-tests/model_caller") > first, what="the plugin started again"
    )
