"""Start-up to ready: from spawning a server until `GET /health/check` answers 200.

dify-mock (`python -m dify_mock serve --fixtures fixtures`) against a bare Starlette app on uvicorn
(`bench/reference_app.py`), both on this interpreter; `python -c pass` (spawn to exit) is the floor. Two more
rows say where the mock's time goes, each from spawn to exit: `import fastapi` alone, and `import mock` (every
module `serve` loads before it builds anything). The runs are interleaved, one of each in turn, so that a busy
moment of the machine falls on all of them alike.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, START_TIMEOUT, BenchError, free_port, percentile, stop_group, tail

POLL = 0.002  # seconds between attempts to connect


CONTENDERS = ("dify-mock", "reference", "python -c pass", "import fastapi", "import mock")
EXITING = {  # contenders timed from spawn to exit: the statement each runs
    "python -c pass": "pass",
    "import fastapi": "import fastapi",
    "import mock": "import dify_mock.cli.main, dify_mock.startup.serve",
}


def command(name: str, port: int, workdir: Path) -> list[str]:
    if name == "dify-mock":
        mock = [sys.executable, "-m", "dify_mock", "serve", "--fixtures", str(ROOT / "fixtures")]
        mock += ["--host", "127.0.0.1", "--port", str(port), "--debug-port", str(free_port())]
        return [*mock, "--data-dir", str(workdir / "data"), "--log-level", "warning"]
    if name == "reference":
        return [sys.executable, "-m", "bench.reference_app", "--port", str(port)]
    return [sys.executable, "-c", EXITING[name]]


def answers(port: int) -> bool:
    """True once GET /health/check answers 200; False while nothing listens yet."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/health/check")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def time_to_ready(name: str, command: list[str], port: int, log: Path) -> float:
    """Seconds from spawning `command` until it answers on `port` (or, for EXITING ones, until it exits)."""
    with log.open("wb") as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        if name in EXITING:
            process.wait(START_TIMEOUT)
            return time.perf_counter() - started
        while time.perf_counter() - started < START_TIMEOUT:
            if answers(port):
                return time.perf_counter() - started
            if process.poll() is not None:
                raise BenchError(f"{name} exited with {process.returncode} before it was ready\n{tail(log)}")
            time.sleep(POLL)
        raise BenchError(f"{name} was not ready after {START_TIMEOUT:.0f} s\n{tail(log)}")
    finally:
        with contextlib.suppress(OSError):
            stop_group(process)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--startup-runs", type=int, default=5, help="startup: starts of each server (default 5)")


def run(arguments: argparse.Namespace, workdir: Path) -> list[str]:
    runs = arguments.startup_runs
    if runs < 1:
        return ["startup: --startup-runs must be at least 1"]
    samples: dict[str, list[float]] = {}
    try:
        for index in range(runs):
            for name in CONTENDERS:
                port = free_port()
                log = workdir / f"{name.split()[0]}-{index}.log"
                ready = time_to_ready(name, command(name, port, workdir / f"run-{index}"), port, log)
                samples.setdefault(name, []).append(ready)
    except (BenchError, OSError, subprocess.TimeoutExpired) as error:
        return [f"startup: {error}"]
    reference = samples["reference"]
    header = f"{'process':<16} {'p50 s':>7} {'min s':>7} {'max s':>7} {'runs':>5} {'p50/ref':>8} {'min/ref':>8}"
    print(header)
    print("-" * len(header))
    for name, seconds in samples.items():
        p50_ratio = percentile(seconds, 0.5) / percentile(reference, 0.5)
        print(
            f"{name:<16} {percentile(seconds, 0.5):>7.3f} {min(seconds):>7.3f} {max(seconds):>7.3f} {len(seconds):>5} "
            f"{p50_ratio:>7.2f}x {min(seconds) / min(reference):>7.2f}x"
        )
    print()
    print(
        "From spawning the process until GET /health/check answered 200 (python -c and import rows: until it "
        "exited); "
        "ref = the bare Starlette app on uvicorn. Runs: "
        + "; ".join(f"{name} " + ", ".join(f"{value:.2f}" for value in seconds) for name, seconds in samples.items())
    )
    print(verdict(samples))
    return []


def verdict(samples: dict[str, list[float]]) -> str:
    """The target (issue 14: at most 2x the reference and under 0.5 s), and when it is missed, what the rows say."""
    mock, reference = percentile(samples["dify-mock"], 0.5), percentile(samples["reference"], 0.5)
    fastapi, imports = percentile(samples["import fastapi"], 0.5), percentile(samples["import mock"], 0.5)
    if mock <= 2 * reference and mock < 0.5:
        return f"target (at most 2x the reference, under 0.5 s): met, {mock / reference:.2f}x, {mock:.2f} s"
    return (
        f"target (at most 2x the reference, under 0.5 s): missed, {mock / reference:.2f}x, {mock:.2f} s. A process "
        f"that only imports the mock's modules takes {imports / mock:.0%} as long as its start-up, and `import fastapi` "
        f"alone "
        f"{fastapi / reference:.2f}x the reference's whole start-up: the target needs FastAPI (and the pydantic "
        f"models of the fixture format) off the path to ready."
    )
