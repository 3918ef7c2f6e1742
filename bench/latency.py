"""Tool-call latency over remote-debug TCP: dify-mock against a tuned and a naive reference host.

The hosts take turns call by call (one mock call, one tuned reference call, one naive reference call, again), so a
burst of load from elsewhere on a shared machine slows all of them alike and the ratios stay meaningful.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    KEY,
    PLUGIN_ID,
    PROVIDER,
    START_TIMEOUT,
    TENANT,
    BenchError,
    Row,
    plugin_process,
    print_table,
    sse_chunks,
    start_mock,
    stop_group,
    tail,
    wait_until,
)
from bench.hosts import ReferenceHost, ToolCall

CASES: dict[str, tuple[str, dict[str, str]]] = {  # case -> (tool, parameters)
    "echo": ("echo", {"text": "hi"}),
    "llm_once": ("llm_once", {"prompt": "say hi"}),
    "llm_stream": ("llm_stream", {"prompt": "say hi"}),
}


def check_result(case: str, chunks: list[Any]) -> dict[str, Any] | None:
    """Raise unless a tool call answered what the bench plugin should; return the llm_stream JSON if any."""
    if case == "echo":
        if chunks != [{"type": "text", "message": {"text": "echo: hi"}, "meta": None}]:
            raise BenchError(f"echo answered {chunks!r}")
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

    def __init__(self, tuned: bool, stream_chunks: int = 10) -> None:
        self.name = "tuned reference" if tuned else "naive reference"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=self.name, daemon=True)
        self.thread.start()

        async def create() -> tuple[ReferenceHost, int]:
            host = ReferenceHost(tuned=tuned, key=KEY, stream_chunks=stream_chunks)
            return host, await host.start()

        self.host, self.port = self._run(create())

    def _run[T](self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def wait_registered(self, plugin: Any, log: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self.host.plugin_id.done():
            if plugin.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"{self.name}: the bench plugin did not register\n{tail(log)}")
            time.sleep(0.05)
        if self.host.plugin_id.result() != PLUGIN_ID:
            raise BenchError(f"{self.name}: registered {self.host.plugin_id.result()!r}, expected {PLUGIN_ID!r}")

    def call(self, case: str) -> tuple[float, ToolCall]:
        tool, parameters = CASES[case]
        elapsed, call = self._run(self.host.invoke_tool(PROVIDER, tool, parameters))
        if call.error is not None:
            raise BenchError(f"{self.name} {case}: the plugin failed: {call.error}")
        check_result(case, call.chunks)
        return elapsed, call

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._run(self.host.close(), timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@contextlib.contextmanager
def reference_thread(tuned: bool) -> Iterator[ReferenceThread]:
    reference = ReferenceThread(tuned)
    try:
        yield reference
    finally:
        reference.close()


class MockClient:
    """Tool calls through dify-mock's dispatch API on one keep-alive connection; host-side times from its journal."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def registered(self) -> bool:
        listed = self.client.get(f"/plugin/{TENANT}/management/list").json().get("data") or []
        return any(item.get("plugin_id") == PLUGIN_ID for item in listed)

    def call(self, case: str) -> tuple[float, dict[str, Any] | None]:
        tool, parameters = CASES[case]
        body = {
            "user_id": "bench",
            "data": {
                "provider": PROVIDER,
                "tool": tool,
                "tool_parameters": parameters,
                "credentials": {},
                "credential_type": "api-key",
            },
        }
        started = time.perf_counter()
        response = self.client.post(
            f"/plugin/{TENANT}/dispatch/tool/invoke", json=body, headers={"X-Plugin-ID": PLUGIN_ID}
        )
        elapsed = (time.perf_counter() - started) * 1000
        return elapsed, check_result(case, sse_chunks(response))

    def clear_journal(self) -> None:
        self.client.delete("/mock/journal").raise_for_status()

    def host_side(self, case: str, calls: int) -> list[float]:
        journal = self.client.get("/mock/journal", params={"kind": "dispatch"}).raise_for_status().json()
        entries = [entry for entry in journal["entries"] if entry.get("plugin_id") == PLUGIN_ID]
        failed = [entry for entry in entries if entry.get("error")]
        if failed:
            raise BenchError(f"{case}: the journal records errors, first: {failed[0]['error']}")
        timings = [float(entry["duration_ms"]) for entry in entries if entry.get("duration_ms") is not None]
        if len(timings) != calls:
            raise BenchError(f"{case}: the journal holds {len(timings)} dispatch timings for {calls} calls")
        return timings


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
            mock = MockClient(client)
            wait_until("the bench plugin on dify-mock", mock.registered, mock_plugin, workdir / "plugin-mock.log")
            tuned.wait_registered(tuned_plugin, workdir / "plugin-tuned.log")
            naive.wait_registered(naive_plugin, workdir / "plugin-naive.log")
            _, streamed = mock.call("llm_stream")
            stream_chunks = int(streamed["chunks"]) if streamed else 1
            tuned.host.stream_chunks = stream_chunks  # both hosts stream the same number of chunks
            for case in CASES:
                others: list[ReferenceThread] = [tuned, naive] if case == "echo" else [tuned]
                for _ in range(warmup):
                    mock.call(case)
                    for reference in others:
                        reference.call(case)
                mock.clear_journal()
                client_side: list[float] = []
                reference_side: dict[str, list[float]] = {reference.name: [] for reference in others}
                for _ in range(calls):
                    client_side.append(mock.call(case)[0])
                    for reference in others:
                        reference_side[reference.name].append(reference.call(case)[0])
                rows.append(Row("dify-mock", f"{case} host-side", mock.host_side(case, calls), case))
                rows.append(Row("dify-mock", f"{case} HTTP client", client_side, case))
                rows += [Row(name, f"{case} host-side", samples, case) for name, samples in reference_side.items()]
    finally:
        stop_group(server)
    return rows, stream_chunks


def run(arguments: argparse.Namespace, workdir: Path) -> list[str]:
    """Print the latency table; return what failed functionally."""
    if arguments.calls < 1 or arguments.warmup < 0:
        return ["latency: --calls must be at least 1 and --warmup at least 0"]
    try:
        rows, stream_chunks = measure(arguments.calls, arguments.warmup, workdir)
    except (BenchError, httpx.HTTPError, TimeoutError, ConnectionError, OSError) as error:
        return [f"latency: {error if isinstance(error, BenchError) else repr(error)}"]
    print_table(sorted(rows, key=lambda row: (list(CASES).index(row.reference_case), row.host != "dify-mock")))
    print()
    print(
        "host-side: from writing the request to the plugin's `end` (dify-mock: journal duration_ms). "
        "HTTP client: POST /plugin/default/dispatch/tool/invoke, SSE read fully, one keep-alive connection. "
        "The hosts take turns call by call."
    )
    print(f"The reference host streams {stream_chunks} LLM chunks per llm_stream call, as many as dify-mock did.")
    return []
