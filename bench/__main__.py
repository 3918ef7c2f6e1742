"""Tool-call latency of dify-mock against two reference hosts, all measured in one run: `python -m bench`.

Prints a table and exits non-zero only when something failed functionally. Timings are reported, never judged.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.hosts import QUICKACK, ReferenceHost

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIR = Path(__file__).resolve().parent / "plugin_echo"
PLUGIN_ID = "dify-mock-bench/bench_echo"
PROVIDER = "bench"
TENANT = "default"
KEY = "dify-mock-bench"  # other plugins that find our ports by chance are refused or ignored
START_TIMEOUT = 30.0
CASES: dict[str, tuple[str, dict[str, str]]] = {  # case -> (tool, parameters)
    "echo": ("echo", {"text": "hi"}),
    "llm_once": ("llm_once", {"prompt": "say hi"}),
    "llm_stream": ("llm_stream", {"prompt": "say hi"}),
}


class BenchError(Exception):
    """A functional failure: the plugin did not register, a call errored or answered the wrong thing."""


@dataclass
class Row:
    host: str
    case: str
    samples: list[float]
    reference_case: str  # the tuned reference row this one is compared with


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_group(process: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    """Stop a process started with start_new_session=True, and everything it started."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the SDK may leave threads or children behind
    process.wait()


@contextlib.contextmanager
def plugin_process(debug_port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    python = os.environ.get("DIFY_MOCK_PLUGIN_PYTHON") or str(ROOT / ".venv-sdk" / "bin" / "python")
    env = {
        **os.environ,
        "INSTALL_METHOD": "remote",
        "REMOTE_INSTALL_URL": f"127.0.0.1:{debug_port}",
        "REMOTE_INSTALL_KEY": KEY,
    }
    with log.open("wb") as output:
        process = subprocess.Popen(
            [python, "-m", "main"],
            cwd=PLUGIN_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        stop_group(process, grace=0.5)


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


# dify-mock ------------------------------------------------------------------------------------------------------


def sse_chunks(response: httpx.Response) -> list[Any]:
    if response.status_code != 200:
        raise BenchError(f"dispatch answered HTTP {response.status_code}: {response.text[:500]}")
    chunks = []
    for line in response.text.splitlines():
        if line.startswith("data:"):
            event = json.loads(line[5:])
            if event.get("code") != 0:
                raise BenchError(f"dispatch streamed an error: {event.get('message')}")
            chunks.append(event["data"])
    return chunks


def wait_until(what: str, ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{what}: the process exited with {process.returncode}\n{tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if ready():
                return
        time.sleep(0.1)
    raise BenchError(f"{what}: not ready after {START_TIMEOUT:.0f} s\n{tail(log)}")


def start_mock(workdir: Path, attempts: int = 3) -> tuple[subprocess.Popen[bytes], int, int]:
    """Start dify-mock on free ports and wait for /health/check; new ports if another process took ours."""
    log = workdir / "mock.log"
    for attempt in range(1, attempts + 1):
        port, debug_port = free_port(), free_port()
        command = [sys.executable, "-m", "dify_mock", "serve", "--host", "127.0.0.1", "--port", str(port)]
        command += ["--debug-port", str(debug_port), "--key", f"{KEY}={TENANT}", "--data-dir", str(workdir / "data")]
        command += ["--log-level", "warning"]
        with log.open("wb") as output:
            server = subprocess.Popen(
                command,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
                wait_until("dify-mock", lambda: client.get("/health/check").status_code == 200, server, log)
            return server, port, debug_port
        except BenchError:
            stop_group(server)
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


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


# report ---------------------------------------------------------------------------------------------------------


def machine_info() -> list[str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                cpu = line.split(":", 1)[1].strip()
                break
    return [
        f"date     {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"cpu      {cpu} ({os.cpu_count()} logical cores)",
        f"os       {platform.system()} {platform.release()}",
        f"python   {platform.python_version()} ({sys.executable})",
        f"quickack {'available' if QUICKACK is not None else 'NOT available on this OS: tuned == nodelay only'}",
    ]


def print_table(rows: list[Row]) -> None:
    tuned = {row.reference_case: row for row in rows if row.host == "tuned reference"}
    header = f"{'host':<16} {'case':<22} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'calls':>6} {'p50/tuned':>10}"
    print(header)
    print("-" * len(header))
    for row in rows:
        p50 = percentile(row.samples, 0.5)
        reference = tuned.get(row.reference_case)
        ratio = f"{p50 / percentile(reference.samples, 0.5):.2f}x" if reference else "-"
        print(
            f"{row.host:<16} {row.case:<22} {p50:>8.3f} {percentile(row.samples, 0.9):>8.3f} "
            f"{percentile(row.samples, 0.99):>8.3f} {len(row.samples):>6} {ratio:>10}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--calls", type=int, default=300, help="timed calls per host and case (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls before each case (default 20)")
    arguments = parser.parse_args(argv)
    if arguments.calls < 1 or arguments.warmup < 0:
        parser.error("--calls must be at least 1 and --warmup at least 0")
    print("\n".join(machine_info()))
    print()
    rows: list[Row] = []
    failures: list[str] = []
    stream_chunks = 10
    with tempfile.TemporaryDirectory(prefix="dify-mock-bench-") as temporary:
        workdir = Path(temporary)
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
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
