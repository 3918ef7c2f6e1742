"""Tool-call latency over remote-debug TCP: dify-mock against a tuned and a naive reference host."""

from __future__ import annotations

import argparse
import asyncio
import time
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
from bench.hosts import ReferenceHost

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


# dify-mock ---------------------------------------------------------------------------------------------------------


def run_mock(calls: int, warmup: int, workdir: Path) -> tuple[list[Row], int]:
    """Rows for dify-mock, and the chunk count its built-in streamed LLM answer used."""
    server, port, debug_port = start_mock(workdir)
    rows: list[Row] = []
    stream_chunks = 0
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            plugin_log = workdir / "plugin-mock.log"
            with plugin_process(debug_port, plugin_log) as plugin:

                def registered() -> bool:
                    listed = client.get(f"/plugin/{TENANT}/management/list").json().get("data") or []
                    return any(item.get("plugin_id") == PLUGIN_ID for item in listed)

                wait_until("the bench plugin on dify-mock", registered, plugin, plugin_log)
                for case, (tool, parameters) in CASES.items():
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

                    def call(case: str = case, body: dict[str, Any] = body) -> tuple[float, dict[str, Any] | None]:
                        started = time.perf_counter()
                        response = client.post(
                            f"/plugin/{TENANT}/dispatch/tool/invoke", json=body, headers={"X-Plugin-ID": PLUGIN_ID}
                        )
                        elapsed = (time.perf_counter() - started) * 1000
                        return elapsed, check_result(case, sse_chunks(response))

                    for _ in range(warmup):
                        call()
                    client.delete("/mock/journal").raise_for_status()
                    observed = []
                    for _ in range(calls):
                        elapsed, result = call()
                        observed.append(elapsed)
                        if result is not None:
                            stream_chunks = int(result["chunks"])
                    journal = client.get("/mock/journal", params={"kind": "dispatch"}).raise_for_status().json()
                    entries = [entry for entry in journal["entries"] if entry.get("plugin_id") == PLUGIN_ID]
                    failed = [entry for entry in entries if entry.get("error")]
                    if failed:
                        raise BenchError(f"{case}: the journal records errors, first: {failed[0]['error']}")
                    host_side = [
                        float(entry["duration_ms"]) for entry in entries if entry.get("duration_ms") is not None
                    ]
                    if len(host_side) != calls:
                        raise BenchError(
                            f"{case}: the journal holds {len(host_side)} dispatch timings for {calls} calls"
                        )
                    rows.append(Row("dify-mock", f"{case} host-side", host_side, case))
                    rows.append(Row("dify-mock", f"{case} HTTP client", observed, case))
    finally:
        stop_group(server)
    return rows, stream_chunks


# reference hosts ------------------------------------------------------------------------------------------------


async def run_reference_async(
    tuned: bool, cases: list[str], calls: int, warmup: int, stream_chunks: int, workdir: Path
) -> list[Row]:
    name = "tuned reference" if tuned else "naive reference"
    host = ReferenceHost(tuned=tuned, key=KEY, stream_chunks=stream_chunks)
    debug_port = await host.start()
    plugin_log = workdir / f"plugin-{'tuned' if tuned else 'naive'}.log"
    rows = []
    try:
        with plugin_process(debug_port, plugin_log) as plugin:
            deadline = time.monotonic() + START_TIMEOUT
            while not host.plugin_id.done():
                if plugin.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"{name}: the bench plugin did not register\n{tail(plugin_log)}")
                await asyncio.sleep(0.05)
            if host.plugin_id.result() != PLUGIN_ID:
                raise BenchError(f"{name}: registered {host.plugin_id.result()!r}, expected {PLUGIN_ID!r}")
            for case in cases:
                tool, parameters = CASES[case]
                samples = []
                for index in range(warmup + calls):
                    elapsed, call = await asyncio.wait_for(host.invoke_tool(PROVIDER, tool, parameters), 60)
                    if call.error is not None:
                        raise BenchError(f"{name} {case}: the plugin failed: {call.error}")
                    check_result(case, call.chunks)
                    if index >= warmup:
                        samples.append(elapsed)
                rows.append(Row(name, f"{case} host-side", samples, case))
    finally:
        await host.close()
    return rows


# the section ----------------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=300, help="latency: timed calls per host and case (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="latency: untimed calls before each case (default 20)")


def run(arguments: argparse.Namespace, workdir: Path) -> list[str]:
    """Print the latency table; return what failed functionally."""
    if arguments.calls < 1 or arguments.warmup < 0:
        return ["latency: --calls must be at least 1 and --warmup at least 0"]
    rows: list[Row] = []
    failures: list[str] = []
    stream_chunks = 10
    try:
        mock_rows, stream_chunks = run_mock(arguments.calls, arguments.warmup, workdir)
        rows += mock_rows
    except (BenchError, httpx.HTTPError, OSError) as error:
        failures.append(f"dify-mock: {error}")
    plans = [(True, list(CASES)), (False, ["echo"])]
    for tuned, cases in plans:
        try:
            rows += asyncio.run(
                run_reference_async(tuned, cases, arguments.calls, arguments.warmup, stream_chunks, workdir)
            )
        except (BenchError, TimeoutError, ConnectionError, OSError) as error:
            failures.append(str(error) if isinstance(error, BenchError) else f"reference host: {error!r}")
    if rows:
        print_table(rows)
        print()
        print(
            "host-side: from writing the request to the plugin's `end` (dify-mock: journal duration_ms). "
            "HTTP client: POST /plugin/default/dispatch/tool/invoke, SSE read fully, one keep-alive connection."
        )
        print(f"The reference hosts stream {stream_chunks} LLM chunks per llm_stream call, as many as dify-mock did.")
    return failures
