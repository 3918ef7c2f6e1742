"""Section `cli_help`: `dify-mock --help` (and `dify-mock serve --help`) from spawn to exit, against
`python -c pass` on the same interpreter, the runs interleaved so that load from elsewhere slows all alike.

Target (issue 27): `dify-mock --help` within 4x `python -c pass`. The command line lists its commands without
importing any of them; a command's module (and the settings model, pydantic) loads only when that command runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench.common import percentile

CONTENDERS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "dify-mock --help": [sys.executable, "-m", "dify_mock", "--help"],
    "dify-mock serve --help": [sys.executable, "-m", "dify_mock", "serve", "--help"],
}
TARGET = 4.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--help-runs", type=int, default=20, help="cli_help: runs of each command (default 20)")


def spawn_to_exit(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {done.returncode}: {done.stderr.decode()[-300:]}")
    return elapsed


def run(arguments: argparse.Namespace, workdir: Path) -> list[str]:
    if arguments.help_runs < 1:
        return ["cli_help: --help-runs must be at least 1"]
    samples: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    try:
        for command in CONTENDERS.values():  # once each, untimed: the bytecode caches are written
            spawn_to_exit(command)
        for _ in range(arguments.help_runs):
            for name, command in CONTENDERS.items():
                samples[name].append(spawn_to_exit(command))
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        return [f"cli_help: {error}"]
    floor = samples["python -c pass"]
    header = f"{'command':<24} {'p50 ms':>8} {'min ms':>8} {'p50/pass':>9} {'min/pass':>9}"
    print(header)
    print("-" * len(header))
    for name, seconds in samples.items():
        print(
            f"{name:<24} {percentile(seconds, 0.5) * 1000:>8.1f} {min(seconds) * 1000:>8.1f} "
            f"{percentile(seconds, 0.5) / percentile(floor, 0.5):>8.2f}x {min(seconds) / min(floor):>8.2f}x"
        )
    ratio = percentile(samples["dify-mock --help"], 0.5) / percentile(floor, 0.5)
    print()
    print(f"From spawn to exit, {arguments.help_runs} runs each, interleaved; pass = `python -c pass`.")
    print(
        f"target (dify-mock --help within {TARGET:g}x python -c pass): {'met' if ratio <= TARGET else 'missed'}, {ratio:.2f}x"
    )
    return []
