"""Tool-call latency over stdio: `dify-mock run` (the local runtime) against a minimal stdio reference host.

Uses the latency section's `--calls` and `--warmup`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    PLUGIN_DIR,
    PLUGIN_ID,
    PROVIDER,
    START_TIMEOUT,
    BenchError,
    LoopThread,
    Row,
    percentile,
    plugin_python,
    print_table,
    start_mock,
    stop_group,
    tail,
    time_mock_tool,
    wait_registered,
)
from bench.latency import CASES, check_result
from bench.stdio_host import StdioReferenceHost

REFERENCE = "stdio reference"


def child_pids(pid: int) -> list[int]:
    """The processes `pid` started: the mock's plugin runs in a session of its own, so it is not in the mock's."""
    children: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(child) for child in (task / "children").read_text().split()]
    return children


def measure(calls: int, warmup: int, workdir: Path) -> tuple[list[Row], int]:
    """dify-mock running the bench plugin itself, and the reference host running its own copy, at the same time;
    their calls alternate, one of each in turn. The reference host streams as many LLM chunks as dify-mock's
    built-in answer (taken from the first llm_stream answer, the warm-up's)."""
    server, port, _ = start_mock(workdir, subcommand=["run", str(PLUGIN_DIR), "--python", plugin_python()])
    plugins: list[int] = []
    loop = LoopThread()
    host: StdioReferenceHost | None = None
    rows: list[Row] = []
    log = workdir / "plugin-stdio-reference.log"
    try:

        async def create() -> StdioReferenceHost:
            created = StdioReferenceHost(stream_chunks=1)
            await created.spawn(PLUGIN_DIR, plugin_python(), log)
            return created

        host = loop.run(create())
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            wait_registered(client, server, workdir / "mock.log", "the bench plugin on dify-mock (local runtime)")
            plugins = child_pids(server.pid)
            try:
                plugin_id = loop.run(asyncio.wait_for(asyncio.shield(host.plugin_id), START_TIMEOUT), START_TIMEOUT + 5)
            except (TimeoutError, ConnectionError):
                raise BenchError(f"{REFERENCE}: the bench plugin sent no heartbeat\n{tail(log)}") from None
            if plugin_id != PLUGIN_ID:
                raise BenchError(f"{REFERENCE}: the plugin says it is {plugin_id!r}, expected {PLUGIN_ID!r}")
            reference = host
            for case, (tool, parameters) in CASES.items():
                samples: list[float] = []

                def check(chunks: list[Any], case: str = case) -> None:
                    result = check_result(case, chunks)
                    if result is not None:
                        reference.stream_chunks = int(result["chunks"])

                def reference_call(
                    case: str = case,
                    tool: str = tool,
                    parameters: dict[str, str] = parameters,
                    samples: list[float] = samples,
                ) -> None:
                    elapsed, call = loop.run(reference.invoke_tool(PROVIDER, tool, parameters), 60)
                    if call.error is not None:
                        raise BenchError(f"{REFERENCE} {case}: the plugin failed: {call.error}")
                    result = check_result(case, call.chunks)
                    if result is not None and result["chunks"] != reference.stream_chunks:
                        raise BenchError(
                            f"{REFERENCE}: llm_stream got {result['chunks']} chunks, dify-mock's plugin "
                            f"{reference.stream_chunks}"
                        )
                    samples.append(elapsed)

                host_side, observed = time_mock_tool(client, tool, parameters, calls, warmup, check, reference_call)
                rows.append(Row("dify-mock", f"{case} host-side", host_side, case))
                rows.append(Row("dify-mock", f"{case} HTTP client", observed, case))
                rows.append(Row(REFERENCE, f"{case} host-side", samples[warmup:], case))
    finally:
        if host is not None:
            loop.run(host.close())
        loop.close()
        stop_group(server)  # the mock stops its plugin's group; this is in case it could not
        for pid in plugins:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
    return rows, host.stream_chunks if host is not None else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--calls` and `--warmup` are the latency section's."""


def run(arguments: argparse.Namespace, workdir: Path) -> list[str]:
    calls, warmup = arguments.calls, arguments.warmup
    if calls < 1 or warmup < 0:
        return ["stdio: --calls must be at least 1 and --warmup at least 0"]
    try:
        rows, stream_chunks = measure(calls, warmup, workdir)
    except (BenchError, httpx.HTTPError, OSError, TimeoutError, ConnectionError) as error:
        return [f"stdio: {error}"]
    if rows:  # always, unless --calls was 0
        print_table(rows, reference_host=REFERENCE)
        references = {row.reference_case: row for row in rows if row.host == REFERENCE}
        ratios = []
        for row in rows:
            reference = references.get(row.reference_case)
            if row.host != REFERENCE and reference is not None:
                ratio = percentile(row.samples, 0.99) / percentile(reference.samples, 0.99)
                ratios.append(f"{row.case} {ratio:.2f}x")
        print()
        print(f"p99/stdio: {', '.join(ratios)}")
        print(
            "host-side: from writing the request line to the plugin's stdin to reading its `end` from its stdout "
            "(dify-mock: journal duration_ms). HTTP client: POST /plugin/default/dispatch/tool/invoke, SSE read."
        )
        print(f"The reference host streams {stream_chunks} LLM chunks per llm_stream call, as many as dify-mock did.")
    return []
