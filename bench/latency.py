"""Tool-call latency over remote-debug TCP: dify-mock against a tuned and a naive reference host, and dify-mock's
HTTP face against the HTTP bridge (`http_bridge.py`: raw ASGI on uvicorn over a tuned reference host).

The hosts take turns call by call (one mock call, one tuned reference call, one naive reference call, one bridge
call, again), so a burst of load from elsewhere on a shared machine slows all of them alike and the ratios stay
meaningful. The mock and the bridge are timed by the same kind of HTTP client, each on a keep-alive connection.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    KEY,
    PLUGIN_ID,
    PROVIDER,
    ROOT,
    START_TIMEOUT,
    TENANT,
    BenchError,
    LoopThread,
    Row,
    free_port,
    journal_host_side,
    percentile,
    plugin_process,
    print_table,
    sse_chunks,
    start_mock,
    stop_group,
    tail,
    tool_call_body,
    wait_registered,
    wait_until,
)
from bench.hosts import ReferenceHost

CASES: dict[str, tuple[str, dict[str, Any]]] = {  # case -> (tool, parameters)
    "echo": ("echo", {"text": "hi"}),
    "llm_once": ("llm_once", {"prompt": "say hi"}),
    "llm_stream": ("llm_stream", {"prompt": "say hi"}),
    "echo_x25": ("echo", {"text": "hi", "times": 25}),  # the tool streams 25 messages: 25 events on the HTTP face
}


def check_result(case: str, chunks: list[Any]) -> dict[str, Any] | None:
    """Raise unless a tool call answered what the bench plugin should; return the llm_stream JSON if any."""
    if case == "echo":
        if chunks != [{"type": "text", "message": {"text": "echo: hi"}, "meta": None}]:
            raise BenchError(f"echo answered {chunks!r}")
    elif case == "echo_x25":
        if chunks != [{"type": "text", "message": {"text": "echo: hi"}, "meta": None}] * 25:
            raise BenchError(f"echo_x25 answered {chunks!r}")
    elif case == "llm_once":
        if len(chunks) != 1 or chunks[0].get("type") != "text" or not chunks[0]["message"].get("text"):
            raise BenchError(f"llm_once answered {chunks!r}")
    elif case == "llm_stream":
        if len(chunks) != 1 or chunks[0].get("type") != "json" or chunks[0]["message"]["json_object"]["chunks"] < 1:
            raise BenchError(f"llm_stream answered {chunks!r}")
        result: dict[str, Any] = chunks[0]["message"]["json_object"]
        return result
    return None


# the hosts ------------------------------------------------------------------------------------------------------


class ReferenceThread:
    """A reference host on an event loop of its own thread, so its calls can alternate with calls to the mock."""

    def __init__(self, tuned: bool) -> None:
        self.name = "tuned reference" if tuned else "naive reference"
        self.loop = LoopThread()

        async def create() -> tuple[ReferenceHost, int]:
            host = ReferenceHost(tuned=tuned, key=KEY)
            return host, await host.start()

        self.host, self.port = self.loop.run(create())

    def wait_registered(self, plugin: subprocess.Popen[bytes], log: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self.host.plugin_id.done():
            if plugin.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{self.name}: the bench plugin did not register\n{tail(log)}")
            time.sleep(0.05)
        if self.host.plugin_id.result() != PLUGIN_ID:
            raise BenchError(f"{self.name}: registered {self.host.plugin_id.result()!r}, expected {PLUGIN_ID!r}")

    def call(self, case: str) -> float:
        tool, parameters = CASES[case]
        elapsed, call = self.loop.run(self.host.invoke_tool(PROVIDER, tool, parameters), timeout=60)
        if call.error is not None:
            raise BenchError(f"{self.name} {case}: the plugin failed: {call.error}")
        check_result(case, call.chunks)
        return elapsed


@contextlib.contextmanager
def reference_thread(tuned: bool) -> Iterator[ReferenceThread]:
    reference = ReferenceThread(tuned)
    try:
        yield reference
    finally:
        with contextlib.suppress(Exception):
            reference.loop.run(reference.host.close(), timeout=5)
        reference.loop.close()


@contextlib.contextmanager
def http_bridge(stream_chunks: int, workdir: Path) -> Iterator[httpx.Client]:
    """The HTTP bridge in a process of its own with its own copy of the bench plugin, registered: a client to it."""
    port, debug_port = free_port(), free_port()
    log = workdir / "bridge.log"
    command = [sys.executable, "-m", "bench.http_bridge", "--port", str(port), "--debug-port", str(debug_port)]
    command += ["--key", KEY, "--stream-chunks", str(stream_chunks)]
    with log.open("wb") as output:
        bridge = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
            plugin_process(debug_port, workdir / "plugin-bridge.log") as plugin,
        ):
            wait_until("the HTTP bridge", lambda: client.get("/health/check").status_code == 200, plugin, log)
            yield client
    finally:
        stop_group(bridge)


def mock_call(client: httpx.Client, case: str) -> tuple[float, dict[str, Any] | None]:
    """One tool call through a dispatch API (dify-mock's, or the bridge's): HTTP-client milliseconds, and the
    llm_stream JSON if any."""
    tool, parameters = CASES[case]
    started = time.perf_counter()
    response = client.post(
        f"/plugin/{TENANT}/dispatch/tool/invoke",
        json=tool_call_body(tool, parameters),
        headers={"X-Plugin-ID": PLUGIN_ID},
    )
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, check_result(case, sse_chunks(response))


# the section ----------------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=300, help="latency: timed calls per host and case (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="latency: untimed calls before each case (default 20)")


def measure(calls: int, warmup: int, workdir: Path) -> tuple[list[Row], int]:
    """The rows of every host and case, and how many chunks the mock's streamed LLM answer had."""
    server, port, debug_port = start_mock(workdir)
    rows: list[Row] = []
    try:
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
            reference_thread(tuned=True) as tuned,
            reference_thread(tuned=False) as naive,
            plugin_process(debug_port, workdir / "plugin-mock.log") as mock_plugin,
            plugin_process(tuned.port, workdir / "plugin-tuned.log") as tuned_plugin,
            plugin_process(naive.port, workdir / "plugin-naive.log") as naive_plugin,
        ):
            wait_registered(client, mock_plugin, workdir / "plugin-mock.log", "the bench plugin on dify-mock")
            tuned.wait_registered(tuned_plugin, workdir / "plugin-tuned.log")
            naive.wait_registered(naive_plugin, workdir / "plugin-naive.log")
            _, streamed = mock_call(client, "llm_stream")
            stream_chunks = int(streamed["chunks"]) if streamed else 1
            tuned.host.stream_chunks = stream_chunks  # both hosts stream the same number of chunks
            with http_bridge(stream_chunks, workdir) as bridge:
                for case in CASES:
                    rows += measure_case(
                        case, calls, warmup, client, bridge, [tuned, naive] if case == "echo" else [tuned]
                    )
    finally:
        stop_group(server)
    return rows, stream_chunks


def measure_case(
    case: str, calls: int, warmup: int, client: httpx.Client, bridge: httpx.Client, others: list[ReferenceThread]
) -> list[Row]:
    """`warmup` untimed, then `calls` timed calls of one case on every host in turn; the rows of the timed ones."""
    for _ in range(warmup):
        mock_call(client, case)
        mock_call(bridge, case)
        for reference in others:
            reference.call(case)
    client.delete("/mock/journal").raise_for_status()
    client_side: list[float] = []
    bridge_side: list[float] = []
    reference_side: dict[str, list[float]] = {reference.name: [] for reference in others}
    for _ in range(calls):
        client_side.append(mock_call(client, case)[0])
        bridge_side.append(mock_call(bridge, case)[0])
        for reference in others:
            reference_side[reference.name].append(reference.call(case))
    http = f"{case} HTTP"
    return [
        Row("dify-mock", f"{case} host-side", journal_host_side(client, case, calls), case),
        *(Row(name, f"{case} host-side", samples, case) for name, samples in reference_side.items()),
        Row("dify-mock", f"{case} HTTP client", client_side, http),
        Row("tuned reference", f"{case} HTTP bridge", bridge_side, http),
    ]


def run(arguments: argparse.Namespace, workdir: Path) -> list[str]:
    """Print the latency table; return what failed functionally."""
    if arguments.calls < 1 or arguments.warmup < 0:
        return ["latency: --calls must be at least 1 and --warmup at least 0"]
    try:
        rows, stream_chunks = measure(arguments.calls, arguments.warmup, workdir)
    except (BenchError, httpx.HTTPError, TimeoutError, ConnectionError, OSError) as error:
        return [f"latency: {error if isinstance(error, BenchError) else repr(error)}"]
    print_table(rows)
    print()
    print(
        "host-side: from writing the request to the plugin's `end` (dify-mock: journal duration_ms), against the "
        "tuned reference host's. HTTP client and HTTP bridge: POST /plugin/default/dispatch/tool/invoke, SSE read "
        "fully, one keep-alive connection each; dify-mock against the bridge (target: at most 1.3x). "
        "The hosts take turns call by call."
    )
    print(f"The reference host streams {stream_chunks} LLM chunks per llm_stream call, as many as dify-mock did.")
    print(http_verdict(rows))
    return []


def http_verdict(rows: list[Row]) -> str:
    """Issue 14's target: from an HTTP client, at most 1.3x the HTTP bridge (p50), case by case."""
    bridge = {row.reference_case: row for row in rows if row.case.endswith("HTTP bridge")}
    verdicts = []
    for row in rows:
        if row.host == "dify-mock" and row.case.endswith("HTTP client") and row.reference_case in bridge:
            ratio = percentile(row.samples, 0.5) / percentile(bridge[row.reference_case].samples, 0.5)
            verdicts.append(
                f"{row.case.removesuffix(' HTTP client')} {ratio:.2f}x {'met' if ratio <= 1.3 else 'MISSED'}"
            )
    return "target, HTTP client at most 1.3x the HTTP bridge (p50): " + ", ".join(verdicts)
