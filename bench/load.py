"""Many real SDK plugins and many tool calls in flight at once: dify-mock's throughput, latency and resident memory,
beside a reference host that drives the same plugins with the same calls in the same run.

The plugins are copies of bench/plugin_load, each under a name of its own. They register with dify-mock first and
are driven through its HTTP dispatch API. dify-mock is then stopped and the reference host (hosts.FleetHost) listens
on the same remote-debug port, where the plugins reconnect by themselves (the SDK retries its address after 5 s).
Every call is checked: exactly its own tag's chunks, indexes 0 to N - 1 in order, nothing lost or duplicated, and
a stream that ended properly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvloop
from dify_mock.testing import parse_sse_events

from bench.common import KEY, TENANT, BenchError, percentile, spawn_plugin, start_mock, stop_group, tail
from bench.hosts import FleetHost
from bench.load_plugin import PROVIDER, TOOL, check_stream, copy_plugin, tool_data
from bench.sse_client import StreamError, post_json

REGISTER_SECONDS = 60.0  # for the plugins to register, plus REGISTER_SECONDS_PER_PLUGIN each
REGISTER_SECONDS_PER_PLUGIN = 2.0  # the SDK needs about 1 s of CPU to start; a busy 2-core machine halves that
RECONNECT_SECONDS = 60.0  # the SDK retries after 5 s, three times
CALL_TIMEOUT = 300.0
RSS_TARGET_MIB = 200
RSS_SAMPLE_SECONDS = 0.05

Call = Callable[[str, str], Awaitable[tuple[float, str | None]]]  # (plugin id, tag) -> (ms, problem or None)


# processes ----------------------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int, name: str) -> int:
    """A `Vm...` line of /proc/PID/status in KiB: VmRSS is resident now, VmHWM the peak resident so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {name}")


class Fleet:
    """Copies of the load plugin, one name each, and their processes, each the leader of its own process group."""

    def __init__(self, workdir: Path, count: int) -> None:
        self.folders: dict[str, Path] = {}
        for index in range(count):
            name = f"bench_load_{index:03d}"
            folder = workdir / "plugins" / name
            self.folders[copy_plugin(folder, name)] = folder
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def plugin_ids(self) -> list[str]:
        return list(self.folders)

    def start(self, debug_port: int) -> None:
        for plugin_id, folder in self.folders.items():
            self.processes[plugin_id] = spawn_plugin(folder, debug_port, folder / "plugin.log")

    def check_alive(self) -> None:
        for plugin_id, process in self.processes.items():
            if process.poll() is not None:
                log = tail(self.folders[plugin_id] / "plugin.log")
                raise BenchError(f"plugin {plugin_id} exited with {process.returncode}\n{log}")

    def log_tail(self, plugin_id: str) -> str:
        return f"--- the end of {plugin_id}'s log ---\n{tail(self.folders[plugin_id] / 'plugin.log')}"

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(process.pid) for process in self.processes.values())

    def stop(self) -> None:
        """SIGKILL every plugin's process group: the SDK has nothing to save, and spins once its host is gone."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in self.processes.values():
            process.wait()
        self.processes.clear()


# rounds -------------------------------------------------------------------------------------------------------------


@dataclass
class Round:
    host: str
    latencies_ms: list[float]
    problems: list[str]
    wall_seconds: float
    cpu: dict[str, float] = field(default_factory=dict)  # who -> CPU seconds used during the round
    peak_open: int = 0  # sessions open at the host at the same moment


def plan(fleet: Fleet, prefix: str, calls: int) -> list[tuple[str, str]]:
    """(plugin id, tag) for each call, spread evenly over the plugins."""
    ids = fleet.plugin_ids
    return [(ids[index % len(ids)], f"{prefix}-{index:05d}") for index in range(calls)]


async def run_round(host: str, calls: list[tuple[str, str]], call: Call) -> Round:
    """Start every call at once and wait for all of them."""
    started = time.perf_counter()
    results = await asyncio.gather(*(call(plugin_id, tag) for plugin_id, tag in calls))
    wall = time.perf_counter() - started
    problems = [
        f"{tag} on {plugin_id}: {problem}"
        for (plugin_id, tag), (_, problem) in zip(calls, results, strict=True)
        if problem
    ]
    return Round(host, [elapsed for elapsed, _ in results], problems, wall)


def peak_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


async def sample_rss(pid: int, samples: list[int]) -> None:
    while True:
        with contextlib.suppress(OSError, BenchError):
            samples.append(memory_kib(pid, "VmRSS"))
        await asyncio.sleep(RSS_SAMPLE_SECONDS)


# dify-mock ----------------------------------------------------------------------------------------------------------


@dataclass
class MockReport:
    rounds: list[Round]
    registered_seconds: float
    idle_rss_kib: int
    peak_rss_sampled_kib: int
    peak_rss_hwm_kib: int
    host_side_ms: list[float]  # the journal's duration_ms: request written to `end` read, as the reference measures


def mock_call(port: int, chunks: int, delay_ms: float) -> Call:
    async def call(plugin_id: str, tag: str) -> tuple[float, str | None]:
        body = {"user_id": "bench", "data": tool_data(tag, chunks, delay_ms)}
        path = f"/plugin/{TENANT}/dispatch/tool/invoke"
        started = time.perf_counter()
        try:
            status, content = await post_json("127.0.0.1", port, path, body, {"X-Plugin-ID": plugin_id})
        except (OSError, StreamError) as error:
            return (time.perf_counter() - started) * 1000, f"HTTP client: {error!r}"
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            return elapsed, f"HTTP {status}: {content[:300]!r}"
        try:
            events = parse_sse_events(content)
        except ValueError as error:
            return elapsed, f"unreadable event stream: {error}"
        failed = [event for event in events if event.get("code") != 0]
        if failed:
            return elapsed, f"error event: {str(failed[0].get('message'))[:300]}"
        return elapsed, check_stream(tag, chunks, [event.get("data") for event in events])

    return call


async def wait_registered_on_mock(client: httpx.AsyncClient, fleet: Fleet, server: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    deadline = started + REGISTER_SECONDS + REGISTER_SECONDS_PER_PLUGIN * len(fleet.plugin_ids)
    wanted = set(fleet.plugin_ids)
    listed: set[str] = set()
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise BenchError(f"dify-mock exited with {server.returncode} while the plugins registered")
        fleet.check_alive()
        with contextlib.suppress(httpx.HTTPError):
            response = await client.get(f"/plugin/{TENANT}/management/list")
            listed = {str(item.get("plugin_id")) for item in response.json().get("data") or []}
            if wanted <= listed:
                return time.monotonic() - started
        await asyncio.sleep(1.0)
    raise BenchError(
        f"dify-mock lists {len(wanted & listed)} of {len(wanted)} plugins after {deadline - started:.0f} s"
    )


async def journal_sessions(client: httpx.AsyncClient, calls: int) -> list[tuple[float, float]]:
    """(start, end) in seconds of the journal's finished dispatch entries, once there are `calls` of them (the
    journal writes each within 50 ms) or 10 s have passed."""
    deadline = time.monotonic() + 10
    while True:
        response = await client.get("/mock/journal", params={"kind": "dispatch"})
        entries = [entry for entry in response.raise_for_status().json()["entries"] if entry.get("done")]
        if len(entries) >= calls or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    return [(float(entry["time"]), float(entry["time"]) + float(entry["duration_ms"] or 0) / 1000) for entry in entries]


async def drive_mock(
    server: subprocess.Popen[bytes], port: int, fleet: Fleet, calls: int, chunks: int, delay_ms: float
) -> MockReport:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        registered = await wait_registered_on_mock(client, fleet, server)
        await asyncio.sleep(1.0)  # let registration's garbage settle before reading idle memory
        idle = memory_kib(server.pid, "VmRSS")
        call = mock_call(port, chunks, delay_ms)
        warmup = await run_round("dify-mock warm-up", plan(fleet, "mock-warmup", len(fleet.plugin_ids)), call)
        (await client.delete("/mock/journal")).raise_for_status()
        samples: list[int] = []
        sampler = asyncio.create_task(sample_rss(server.pid, samples))
        before = (cpu_seconds(server.pid), time.process_time(), fleet.cpu_seconds())
        timed = await run_round("dify-mock", plan(fleet, "mock", calls), call)
        after = (cpu_seconds(server.pid), time.process_time(), fleet.cpu_seconds())
        sampler.cancel()
        hwm = memory_kib(server.pid, "VmHWM")
        timed.cpu = {"host": after[0] - before[0], "client": after[1] - before[1], "plugins": after[2] - before[2]}
        sessions = await journal_sessions(client, calls)
        timed.peak_open = peak_overlap(sessions)
        if len(sessions) != calls:
            timed.problems.append(f"the journal holds {len(sessions)} finished dispatch entries for {calls} calls")
    host_side = [(end - start) * 1000 for start, end in sessions]
    return MockReport([warmup, timed], registered, idle, max(samples, default=0), hwm, host_side)


# the reference host --------------------------------------------------------------------------------------------


def reference_call(host: FleetHost, chunks: int, delay_ms: float, intervals: list[tuple[float, float]]) -> Call:
    parameters = tool_data("", chunks, delay_ms)["tool_parameters"]

    async def call(plugin_id: str, tag: str) -> tuple[float, str | None]:
        started = time.perf_counter()
        try:
            elapsed, result = await asyncio.wait_for(
                host.invoke_tool_of(plugin_id, PROVIDER, TOOL, {**parameters, "tag": tag}), CALL_TIMEOUT
            )
        except (TimeoutError, ConnectionError, KeyError) as error:
            return (time.perf_counter() - started) * 1000, f"reference host: {error!r}"
        ended = result.done.result()
        intervals.append((ended - elapsed / 1000, ended))
        if result.error is not None:
            return elapsed, f"the plugin failed: {result.error}"
        return elapsed, check_stream(tag, chunks, result.chunks)

    return call


async def drive_reference(debug_port: int, fleet: Fleet, calls: int, chunks: int, delay_ms: float) -> list[Round]:
    host = FleetHost(KEY)
    await host.start(debug_port)
    try:
        deadline = time.monotonic() + RECONNECT_SECONDS
        while not set(fleet.plugin_ids) <= set(host.plugins):
            fleet.check_alive()
            if time.monotonic() > deadline:
                missing = sorted(set(fleet.plugin_ids) - set(host.plugins))
                raise BenchError(
                    f"{len(host.plugins)} of {len(fleet.plugin_ids)} plugins reconnected to the reference host "
                    f"within {RECONNECT_SECONDS:.0f} s; missing: {', '.join(missing)}\n{fleet.log_tail(missing[0])}"
                )
            await asyncio.sleep(0.2)
        intervals: list[tuple[float, float]] = []
        call = reference_call(host, chunks, delay_ms, intervals)
        warmup = await run_round("reference warm-up", plan(fleet, "ref-warmup", len(fleet.plugin_ids)), call)
        intervals.clear()
        before = (time.process_time(), fleet.cpu_seconds())
        timed = await run_round("reference", plan(fleet, "ref", calls), call)
        after = (time.process_time(), fleet.cpu_seconds())
        timed.cpu = {"host": after[0] - before[0], "plugins": after[1] - before[1]}
        timed.peak_open = peak_overlap(intervals)
    finally:
        await host.close()
    return [warmup, timed]


# the section ------------------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--load-plugins", type=int, default=100, help="load: plugin processes (default 100)")
    parser.add_argument(
        "--load-invocations", type=int, default=1000, help="load: tool calls in flight at once (default 1000)"
    )
    parser.add_argument("--load-chunks", type=int, default=10, help="load: messages each call streams (default 10)")
    parser.add_argument(
        "--load-delay-ms",
        type=float,
        default=1.0,
        help="load: the plugin sleeps this long before each message, so that calls interleave (default 1)",
    )


def run(arguments: argparse.Namespace, workdir: Path) -> list[str]:
    """Print the load table; return what failed functionally (wrong, lost, duplicated or misordered chunks...)."""
    plugins, calls, chunks, delay = (
        arguments.load_plugins,
        arguments.load_invocations,
        arguments.load_chunks,
        arguments.load_delay_ms,
    )
    if plugins < 1 or calls < 1 or chunks < 1 or delay < 0:
        return ["load: --load-plugins, --load-invocations and --load-chunks must be at least 1, --load-delay-ms >= 0"]
    print(f"{plugins} plugins, {calls} calls in flight at once, {chunks} chunks each, {delay:g} ms before each chunk")
    fleet = Fleet(workdir, plugins)
    rounds: list[Round] = []
    failures: list[str] = []
    mock: MockReport | None = None
    try:
        server, port, debug_port = start_mock(workdir)
        try:
            fleet.start(debug_port)
            mock = uvloop.run(drive_mock(server, port, fleet, calls, chunks, delay))
            rounds += mock.rounds
        except (BenchError, httpx.HTTPError, OSError) as error:
            failures.append(f"load, dify-mock: {error}\n{tail(workdir / 'mock.log')}")
        finally:
            stop_group(server)
        if fleet.processes:
            try:
                rounds += uvloop.run(drive_reference(debug_port, fleet, calls, chunks, delay))
            except (BenchError, OSError) as error:
                failures.append(f"load, reference host: {error}")
    except BenchError as error:
        failures.append(f"load: {error}")
    finally:
        fleet.stop()
    for round_ in rounds:
        failures += [f"load, {round_.host}: {problem}" for problem in round_.problems[:20]]
        if len(round_.problems) > 20:
            failures.append(f"load, {round_.host}: {len(round_.problems) - 20} more calls failed")
    report(rounds, mock, chunks)
    return failures


def report(rounds: list[Round], mock: MockReport | None, chunks: int) -> None:
    timed = {round_.host: round_ for round_ in rounds if "warm-up" not in round_.host}
    if mock is not None:
        print(f"dify-mock listed every plugin {mock.registered_seconds:.1f} s after they were started")
    header = (
        f"{'host':<10} {'calls':>6} {'failed':>6} {'wall s':>7} {'calls/s':>8} {'chunks/s':>9} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'open':>5}  CPU s during the run"
    )
    print(header)
    print("-" * len(header))
    for round_ in rounds:
        count = len(round_.latencies_ms)
        cpu = ", ".join(f"{who} {seconds:.1f}" for who, seconds in round_.cpu.items())
        print(
            f"{round_.host.replace(' warm-up', '*'):<10} {count:>6} {len(round_.problems):>6} "
            f"{round_.wall_seconds:>7.2f} {count / round_.wall_seconds:>8.1f} {count * chunks / round_.wall_seconds:>9.0f} "
            f"{percentile(round_.latencies_ms, 0.5):>8.1f} {percentile(round_.latencies_ms, 0.99):>8.1f} "
            f"{round_.peak_open or '-':>5}  {cpu}"
        )
    print("* warm-up: one call per plugin, checked but not timed")
    if mock is not None and mock.host_side_ms:
        print(
            f"dify-mock host-side (journal duration_ms): p50 {percentile(mock.host_side_ms, 0.5):.1f} ms, "
            f"p99 {percentile(mock.host_side_ms, 0.99):.1f} ms"
        )
    mine, reference = timed.get("dify-mock"), timed.get("reference")
    if mine is not None and reference is not None:
        throughput = (len(mine.latencies_ms) / mine.wall_seconds) / (
            len(reference.latencies_ms) / reference.wall_seconds
        )
        reference_p99 = percentile(reference.latencies_ms, 0.99)
        ratios = f"dify-mock / reference: throughput {throughput:.2f}x, p99 "
        ratios += f"{percentile(mine.latencies_ms, 0.99) / reference_p99:.2f}x (HTTP client)"
        if mock is not None and mock.host_side_ms:
            ratios += f", {percentile(mock.host_side_ms, 0.99) / reference_p99:.2f}x (host-side)"
        print(ratios)
    if mock is not None:
        peak = max(mock.peak_rss_sampled_kib, mock.peak_rss_hwm_kib) / 1024
        verdict = "under" if peak < RSS_TARGET_MIB else "OVER"
        print(
            f"dify-mock resident memory: {mock.idle_rss_kib / 1024:.0f} MiB idle with the plugins connected, "
            f"peak {mock.peak_rss_sampled_kib / 1024:.0f} MiB sampled during the run, "
            f"{mock.peak_rss_hwm_kib / 1024:.0f} MiB VmHWM: {verdict} the {RSS_TARGET_MIB} MiB target"
        )
    print(
        "dify-mock latency is the HTTP client's (POST .../dispatch/tool/invoke, event stream read to the end); the "
        "reference's is host-side (request written to `end` parsed). open: sessions open at the host at once."
    )
