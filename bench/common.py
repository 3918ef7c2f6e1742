"""What every benchmark section shares: processes, ports, percentiles, the mock, the bench plugin, the table."""

from __future__ import annotations

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
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bench.hosts import QUICKACK

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIR = Path(__file__).resolve().parent / "plugin_echo"
PLUGIN_ID = "dify-mock-bench/bench_echo"
PROVIDER = "bench"
TENANT = "default"
KEY = "dify-mock-bench"  # other plugins that find our ports by chance are refused or ignored
START_TIMEOUT = 30.0
T = TypeVar("T")


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


def plugin_python() -> str:
    """The interpreter that runs the bench plugin: it has dify-plugin, the mock's own venv does not."""
    return os.environ.get("DIFY_MOCK_PLUGIN_PYTHON") or str(ROOT / ".venv-sdk" / "bin" / "python")


def spawn_plugin(folder: Path, debug_port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start the SDK plugin in `folder` in remote-debug mode against `debug_port`, in a process group of its own."""
    env = {
        **os.environ,
        "INSTALL_METHOD": "remote",
        "REMOTE_INSTALL_URL": f"127.0.0.1:{debug_port}",
        "REMOTE_INSTALL_KEY": KEY,
    }
    with log.open("wb") as output:
        return subprocess.Popen(
            [plugin_python(), "-m", "main"],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextlib.contextmanager
def plugin_process(debug_port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = spawn_plugin(PLUGIN_DIR, debug_port, log)
    try:
        yield process
    finally:
        stop_group(process, grace=0.5)


# the mock ------------------------------------------------------------------------------------------------------


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


def start_mock(
    workdir: Path, attempts: int = 3, extra_args: Sequence[str] = (), subcommand: Sequence[str] = ("serve",)
) -> tuple[subprocess.Popen[bytes], int, int]:
    """Start dify-mock on free ports and wait for /health/check; new ports if another process took ours.
    `extra_args` go at the end of the `serve` command line; `subcommand` may be `run FOLDER --python PY`."""
    log = workdir / "mock.log"
    for attempt in range(1, attempts + 1):
        port, debug_port = free_port(), free_port()
        command = [sys.executable, "-m", "dify_mock", *subcommand, "--host", "127.0.0.1", "--port", str(port)]
        command += ["--debug-port", str(debug_port), "--key", f"{KEY}={TENANT}", "--data-dir", str(workdir / "data")]
        command += ["--log-level", "warning", *extra_args]
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


def wait_registered(client: httpx.Client, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    """Wait until the mock lists the bench plugin; `process` is whichever process dies if it never will."""

    def registered() -> bool:
        listed = client.get(f"/plugin/{TENANT}/management/list").json().get("data") or []
        return any(item.get("plugin_id") == PLUGIN_ID for item in listed)

    wait_until(what, registered, process, log)


def time_mock_tool(
    client: httpx.Client,
    tool: str,
    parameters: dict[str, Any],
    calls: int,
    warmup: int,
    check: Callable[[list[Any]], object],
    after_each: Callable[[], object] | None = None,
) -> tuple[list[float], list[float]]:
    """Host-side (the journal's dispatch `duration_ms`) and HTTP-client milliseconds of `calls` sequential calls of
    a bench tool, after `warmup` untimed ones. `check` raises BenchError on a wrong answer. `after_each` runs after
    every call, warm-up too: a reference host's call there alternates with the mock's, so noise hits both alike."""
    body = tool_call_body(tool, parameters)
    observed: list[float] = []
    for index in range(warmup + calls):
        if index == warmup:
            client.delete("/mock/journal").raise_for_status()
        started = time.perf_counter()
        response = client.post(f"/plugin/{TENANT}/dispatch/tool/invoke", json=body, headers={"X-Plugin-ID": PLUGIN_ID})
        elapsed = (time.perf_counter() - started) * 1000
        check(sse_chunks(response))
        if index >= warmup:
            observed.append(elapsed)
        if after_each is not None:
            after_each()
    return journal_host_side(client, tool, calls), observed


def tool_call_body(tool: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The dispatch body of one call of a bench plugin tool."""
    data = {"provider": PROVIDER, "tool": tool, "tool_parameters": parameters, "credentials": {}}
    return {"user_id": "bench", "data": {**data, "credential_type": "api-key"}}


def journal_host_side(client: httpx.Client, what: str, calls: int) -> list[float]:
    """The `duration_ms` of the bench plugin's dispatch entries in the mock's journal: exactly `calls` of them."""
    journal = client.get("/mock/journal", params={"kind": "dispatch"}).raise_for_status().json()
    entries = [entry for entry in journal["entries"] if entry.get("plugin_id") == PLUGIN_ID]
    failed = [entry for entry in entries if entry.get("error")]
    if failed:
        raise BenchError(f"{what}: the journal records errors, first: {failed[0]['error']}")
    host_side = [float(entry["duration_ms"]) for entry in entries if entry.get("duration_ms") is not None]
    if len(host_side) != calls:
        raise BenchError(f"{what}: the journal holds {len(host_side)} dispatch timings for {calls} calls")
    return host_side


class LoopThread:
    """An event loop on a thread of its own, for an asyncio reference host that runs beside the synchronous mock
    client: `run(coroutine)` waits for its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="reference-host", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = START_TIMEOUT) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


# the report ---------------------------------------------------------------------------------------------------------


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


def print_table(rows: list[Row], reference_host: str = "tuned reference") -> None:
    """One line per row; the last column divides its p50 by the p50 of `reference_host`'s row for the same case."""
    tuned = {row.reference_case: row for row in rows if row.host == reference_host}
    label = f"p50/{reference_host.split()[0]}"
    header = f"{'host':<16} {'case':<22} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'calls':>6} {label:>10}"
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
