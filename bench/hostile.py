"""Section `hostile`: a well-behaved plugin's calls under each hostile load of issue 28 (bench/hostile_loads.py), as
the p99 of `--hostile-calls` echo calls during the load over the p99 of as many just before it (target: p99 under
1 s); and the mock's peak resident memory during the load (target: under 300 MB). The mock runs with its default
bounds. Reported, never judged.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from bench.common import (
    KEY,
    PLUGIN_ID,
    TENANT,
    BenchError,
    percentile,
    plugin_process,
    sse_chunks,
    start_mock,
    stop_group,
    tool_call_body,
    wait_registered,
)
from bench.hostile_loads import (
    LLM_REQUEST,
    MIB,
    TTS_REQUEST,
    Memory,
    WireSession,
    big_bodies,
    big_heads,
    big_prompt,
    endless_registrations,
    never,
    stalled_bodies,
    stalled_event_streams,
    unkeyed_floods,
)

Load = Callable[[int, int, Callable[[str], None]], contextlib.AbstractContextManager[None]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hostile-calls", type=int, default=40, help="hostile: timed calls per phase (default 40)")


@contextlib.contextmanager
def repeated(work: Callable[[], object]) -> Iterator[None]:
    """`work` again and again on a thread until the calls under load are done."""
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            work()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(180)


@contextlib.contextmanager
def held(socks: list[socket.socket]) -> Iterator[None]:
    try:
        yield
    finally:
        for sock in socks:
            sock.close()


@contextlib.contextmanager
def unread_flood(port: int, debug_port: int, listed: Callable[[str], None], kind: str) -> Iterator[None]:
    hostile = WireSession(port, debug_port, KEY, f"unread_{kind}", listed)
    request = LLM_REQUEST if kind == "llm" else TTS_REQUEST
    flood = threading.Thread(target=hostile.flood, args=(kind, request, 300_000, never), daemon=True)
    flood.start()
    try:
        yield
    finally:
        hostile.close()
        flood.join(60)


@contextlib.contextmanager
def full_history_streams(port: int, debug_port: int, listed: Callable[[str], None]) -> Iterator[None]:
    filler = WireSession(port, debug_port, KEY, "filler", listed)
    try:
        filler.answered("llm", big_prompt(25_000), 400)
    finally:
        filler.close()
    with held(stalled_event_streams(port, 60, "history=10000&full=true")):
        yield


LOADS: dict[str, Load] = {
    "4 bodies of 200 MB": lambda port, _, __: repeated(lambda: big_bodies(port, 4, 200 * MIB, False, never)),
    "4 endless chunked bodies": lambda port, _, __: repeated(lambda: big_bodies(port, 4, 400 * MIB, True, never)),
    "20 heads of 16 MiB": lambda port, _, __: repeated(lambda: big_heads(port, 20, 16 * MIB, never)),
    "200 stalled bodies": lambda port, _, __: held(stalled_bodies(port, 200)),
    "12 wrong-key floods": lambda _, debug, __: repeated(lambda: unkeyed_floods(debug, 12, 31 * MIB, never)),
    "10 endless registrations": lambda _, debug, __: repeated(
        lambda: endless_registrations(debug, KEY, 10, 49 * MIB, never)
    ),
    "unread LLM answers": lambda port, debug, listed: unread_flood(port, debug, listed, "llm"),
    "unread TTS answers": lambda port, debug, listed: unread_flood(port, debug, listed, "tts"),
    "60 full-history streams": full_history_streams,
    "300 event streams": lambda port, _, __: held(stalled_event_streams(port, 300, "history=200")),
}


def _calls(client: httpx.Client, count: int) -> list[float]:
    body = tool_call_body("echo", {"text": "hi"})
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.post(f"/plugin/{TENANT}/dispatch/tool/invoke", json=body, headers={"X-Plugin-ID": PLUGIN_ID})
        seconds.append(time.perf_counter() - started)
        if sse_chunks(response) != [{"type": "text", "message": {"text": "echo: hi"}, "meta": None}]:
            raise BenchError(f"echo answered {response.text[:200]!r}")
    return seconds


def run(arguments: argparse.Namespace, workdir: Path) -> list[str]:
    calls = arguments.hostile_calls
    server, port, debug_port = start_mock(workdir)
    memory = Memory(server.pid)
    failures: list[str] = []
    rows: list[tuple[str, float, float, float]] = []
    try:
        with (
            plugin_process(debug_port, workdir / "plugin.log") as plugin,
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client,
        ):
            wait_registered(client, plugin, workdir / "plugin.log", "the echo plugin")

            def listed(plugin_id: str) -> None:
                deadline = time.monotonic() + 60
                while plugin_id not in str(client.get(f"/plugin/{TENANT}/management/list").json()):
                    if time.monotonic() > deadline:
                        raise BenchError(f"{plugin_id} did not register")
                    time.sleep(0.1)

            _calls(client, 5)
            for name, load in LOADS.items():
                quiet = _calls(client, calls)
                memory.reset_peak()
                try:
                    with load(port, debug_port, listed):
                        loaded = _calls(client, calls)
                except (BenchError, httpx.HTTPError, OSError) as error:
                    failures.append(f"hostile {name}: {error!r}")
                    continue
                rows.append((name, percentile(quiet, 0.99), percentile(loaded, 0.99), memory.peak_mb()))
    finally:
        stop_group(server)
    print(f"{'load':<26} {'p99 quiet ms':>13} {'p99 loaded ms':>14} {'ratio':>7} {'peak RSS MB':>12}")
    for name, quiet_p99, loaded_p99, peak in rows:
        ratio = loaded_p99 / quiet_p99
        print(f"{name:<26} {quiet_p99 * 1000:>13.1f} {loaded_p99 * 1000:>14.1f} {ratio:>6.1f}x {peak:>12.0f}")
    print(f"\n{calls} echo calls per phase; targets: p99 under load < 1 s, peak RSS < 300 MB")
    return failures
