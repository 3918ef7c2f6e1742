"""A long streamed reverse LLM answer (1,000 chunks by default), in chunks per second: dify-mock against the tuned
reference host, over remote-debug TCP. The bench plugin's `llm_stream` tool reads the whole stream and says how many
chunks and characters it got; both hosts send the same chunks (content pieces, then one closing chunk with the usage).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    KEY,
    PLUGIN_ID,
    PROVIDER,
    BenchError,
    LoopThread,
    Row,
    percentile,
    plugin_process,
    print_table,
    start_mock,
    stop_group,
    time_mock_tool,
    wait_registered,
    wait_until,
)
from bench.hosts import ANSWER, ReferenceHost

PROMPT = "bench-stream: count the chunks"
WARMUP = 2
TICKS = os.sysconf("SC_CLK_TCK")


def pieces(count: int) -> list[str]:
    """The content pieces of a `count`-chunk answer: the reference host's own (`hosts.llm_chunks`)."""
    words = ANSWER.split(" ")
    return [words[i % len(words)] + " " for i in range(count - 1)]


def expected_result(count: int) -> dict[str, int]:
    return {"chunks": count, "chars": sum(len(piece) for piece in pieces(count))}


def write_fixture(workdir: Path, count: int) -> Path:
    """A fixture rule that streams exactly the reference host's pieces; dify-mock adds the closing chunk."""
    rule = {
        "name": "bench-stream",
        "match": {"prompt": {"contains": "bench-stream"}},
        "reply": {"chunks": pieces(count)},
    }
    path = workdir / "stream.yaml"
    path.write_text(json.dumps({"llm": [rule]}))  # JSON is YAML
    return path


def check(count: int, chunks: list[Any]) -> None:
    expected = expected_result(count)
    if len(chunks) != 1 or chunks[0].get("type") != "json" or chunks[0]["message"]["json_object"] != expected:
        raise BenchError(f"llm_stream answered {chunks!r}, expected the json {expected}")


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User plus system CPU time so far of a process (all its threads), or of one of its threads."""
    stat = Path(f"/proc/{pid}/task/{thread}/stat" if thread is not None else f"/proc/{pid}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def measure(count: int, calls: int, workdir: Path) -> tuple[list[Row], dict[str, dict[str, float]]]:
    """Both hosts and their plugins run at once; their calls alternate, one of each in turn. Returns the rows and,
    per host, the CPU each process used over that host's calls (in cores: 0.5 = half a core)."""
    fixture = write_fixture(workdir, count)
    server, port, debug_port = start_mock(workdir, extra_args=["--fixtures", str(fixture)])
    loop = LoopThread()
    host: ReferenceHost | None = None
    try:

        async def create() -> tuple[ReferenceHost, int]:
            created = ReferenceHost(tuned=True, key=KEY, stream_chunks=count)
            return created, await created.start()

        host, reference_port = loop.run(create())
        with (
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client,
            plugin_process(debug_port, workdir / "plugin-mock.log") as mock_plugin,
            plugin_process(reference_port, workdir / "plugin-tuned.log") as reference_plugin,
        ):
            wait_registered(client, mock_plugin, workdir / "plugin-mock.log", "the bench plugin on dify-mock")
            wait_until(
                "the bench plugin on the tuned reference",
                host.plugin_id.done,
                reference_plugin,
                workdir / "plugin-tuned.log",
            )
            if host.plugin_id.result() != PLUGIN_ID:
                raise BenchError(f"tuned reference: registered {host.plugin_id.result()!r}, expected {PLUGIN_ID!r}")
            reference_host = host
            reference_samples: list[float] = []
            reference_cpu = {"reference host": 0.0, "plugin": 0.0}
            thread = loop.thread.native_id

            def reference_call() -> None:
                before = cpu_seconds(os.getpid(), thread), cpu_seconds(reference_plugin.pid)
                elapsed, result = loop.run(reference_host.invoke_tool(PROVIDER, "llm_stream", {"prompt": PROMPT}), 120)
                reference_cpu["reference host"] += cpu_seconds(os.getpid(), thread) - before[0]
                reference_cpu["plugin"] += cpu_seconds(reference_plugin.pid) - before[1]
                if result.error is not None:
                    raise BenchError(f"tuned reference: the plugin failed: {result.error}")
                check(count, result.chunks)
                reference_samples.append(elapsed)

            parameters = {"prompt": PROMPT}
            time_mock_tool(client, "llm_stream", parameters, WARMUP, 0, lambda c: check(count, c), reference_call)
            reference_samples.clear()
            reference_cpu = dict.fromkeys(reference_cpu, 0.0)
            mock_before = cpu_seconds(server.pid), cpu_seconds(mock_plugin.pid)
            mock_cpu = {"dify-mock": -mock_before[0], "plugin": -mock_before[1]}
            host_side, observed = time_mock_tool(
                client, "llm_stream", parameters, calls, 0, lambda c: check(count, c), reference_call
            )
            # the mock and its plugin idle while the reference works: their CPU over the loop is their own calls'
            mock_cpu["dify-mock"] += cpu_seconds(server.pid)
            mock_cpu["plugin"] += cpu_seconds(mock_plugin.pid)
    finally:
        if host is not None:
            loop.run(host.close())
        loop.close()
        stop_group(server)
    rows = [
        Row("dify-mock", "host-side", host_side, "stream"),
        Row("dify-mock", "HTTP client", observed, "stream"),
        Row("tuned reference", "host-side", reference_samples, "stream"),
    ]
    cpu = {
        "dify-mock": {name: used / (sum(observed) / 1000) for name, used in mock_cpu.items()},
        "tuned reference": {name: used / (sum(reference_samples) / 1000) for name, used in reference_cpu.items()},
    }
    return rows, cpu


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stream-chunks", type=int, default=1000, help="stream: chunks the plugin receives, closing one included"
    )
    parser.add_argument("--stream-calls", type=int, default=20, help="stream: timed calls per host (default 20)")


def run(arguments: argparse.Namespace, workdir: Path) -> list[str]:
    count, calls = arguments.stream_chunks, arguments.stream_calls
    if count < 2 or calls < 1:
        return ["stream: --stream-chunks must be at least 2 and --stream-calls at least 1"]
    try:
        rows, cpu = measure(count, calls, workdir)
    except (BenchError, httpx.HTTPError, OSError, TimeoutError, ConnectionError) as error:
        return [f"stream: {error}"]
    print_table(rows)
    reference = next((row for row in rows if row.host == "tuned reference"), None)
    print(f"\n{'host':<16} {'case':<22} {'chunks/s p50':>13} {'worst':>9} {'ref/this':>9}")
    for row in rows:
        rate = count / percentile(row.samples, 0.5) * 1000
        worst = count / max(row.samples) * 1000
        ratio = f"{percentile(row.samples, 0.5) / percentile(reference.samples, 0.5):.2f}x" if reference else "-"
        print(f"{row.host:<16} {row.case:<22} {rate:>13,.0f} {worst:>9,.0f} {ratio:>9}")
    print()
    for name, shares in cpu.items():
        print(f"CPU while timing on {name}: " + ", ".join(f"{who} {share:.2f} core" for who, share in shares.items()))
    print(
        f"Each call streams {count} chunks to the plugin ({count - 1} content pieces and the closing chunk); "
        "chunks/s = chunks / the call's time. ref/this: the reference's speed over this row's."
    )
    return []
