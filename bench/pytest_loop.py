"""The pytest loop: what a plugin developer's test suite pays for the `dify_mock` and `dify_plugin` fixtures.

A plugin project is written into the work folder: `pytest.ini` naming `plugin_echo/` and `--pytest-loop-tests`
tests, each adding one rule, calling the `llm_once` tool (one reverse LLM call) and asserting on the answer and on
the call the journal saw. `pytest` runs it in a subprocess, with the fixtures as a user gets them, and a
conftest there notes when the body of each test ended. The reference is the same project with bare tests that only assert
(`pytest` itself: collection, reporting, the interpreter). The two take turns, `--pytest-loop-runs` times.

Also measured, in fewer tests: `@pytest.mark.dify_mock(fresh=True)` on every test, which is what every test cost
before the mock and the plugin were shared across a session.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import PLUGIN_DIR, PROVIDER, BenchError, percentile, plugin_python, tail

RUN_TIMEOUT = 600.0

CONFTEST = """
import json, os, time

finished, failures = [], []


def pytest_runtest_logreport(report):
    if report.when == "call":
        finished.append(time.monotonic())
    if report.failed:
        failures.append(f"{report.nodeid} ({report.when}): {report.longreprtext[-2000:]}")


def pytest_sessionfinish(session):
    with open(os.environ["BENCH_PYTEST_LOOP_REPORT"], "w") as out:
        json.dump({"finished": finished, "failures": failures}, out)
"""

MOCK_TESTS = """
import pytest


@pytest.mark.parametrize("n", range({tests}))
{marker}def test_the_tool_asks_the_llm(dify_mock, dify_plugin, n):
    dify_mock.add_rules({{"llm": [{{"match": {{"prompt": {{"contains": f"q{{n}}"}}}}, "reply": {{"text": f"a{{n}}"}}}}]}})
    messages = dify_plugin.invoke_tool("{provider}", "llm_once", {{"prompt": f"q{{n}}"}})
    assert [message["message"]["text"] for message in messages] == [f"a{{n}}"]
    [call] = dify_mock.calls("llm")
    assert call.prompt == f"q{{n}}" and call.answered_by.startswith("rule:")
"""

BARE_TESTS = """
import pytest


@pytest.mark.parametrize("n", range({tests}))
def test_bare(n):
    assert [f"a{{n}}"] == [f"a{{n}}"]
"""


@dataclass(frozen=True)
class Contender:
    name: str
    tests: int
    test_file: str  # the test module's source, formatted with tests, provider and marker


@dataclass
class LoopRun:
    first_done: float  # seconds from spawning pytest until the first test's body had run
    per_test: float  # seconds per test after the first: (last end - first end) / (tests - 1)
    total: float  # seconds from spawning pytest until it exited


def write_project(folder: Path, contender: Contender) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ini = f"[pytest]\ndify_plugin_path = {PLUGIN_DIR}\ndify_plugin_python = {plugin_python()}\n"
    (folder / "pytest.ini").write_text(ini)
    (folder / "conftest.py").write_text(CONFTEST)
    marker = "@pytest.mark.dify_mock(fresh=True)\n" if contender.name.startswith("fresh") else ""
    source = contender.test_file.format(tests=contender.tests, provider=PROVIDER, marker=marker)
    (folder / "test_loop.py").write_text(textwrap.dedent(source))


def run_once(folder: Path, contender: Contender, index: int) -> LoopRun:
    report = folder / f"report-{index}.json"
    log = folder / f"pytest-{index}.log"
    env = {**os.environ, "BENCH_PYTEST_LOOP_REPORT": str(report)}
    with log.open("wb") as output:
        started = time.monotonic()
        process = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_loop.py"],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT,
        )
        ended = time.monotonic()
    if not report.exists():
        raise BenchError(f"{contender.name}: pytest exited with {process.returncode} and no report\n{tail(log)}")
    found = json.loads(report.read_text())
    if found["failures"] or process.returncode != 0:
        raise BenchError(f"{contender.name}: exit {process.returncode}; {'; '.join(found['failures'])}\n{tail(log)}")
    finished: list[float] = found["finished"]
    if len(finished) != contender.tests:
        raise BenchError(f"{contender.name}: {len(finished)} of {contender.tests} tests finished\n{tail(log)}")
    per_test = (finished[-1] - finished[0]) / (len(finished) - 1) if len(finished) > 1 else 0.0
    return LoopRun(finished[0] - started, per_test, ended - started)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pytest_loop")
    group.add_argument("--pytest-loop-tests", type=int, default=50, help="pytest_loop: tests per run (default 50)")
    group.add_argument("--pytest-loop-runs", type=int, default=3, help="pytest_loop: runs of each (default 3)")
    group.add_argument(
        "--pytest-loop-fresh-tests",
        type=int,
        default=4,
        help="pytest_loop: tests in the run with a fresh mock per test (default 4; 0 leaves it out)",
    )


def run(arguments: argparse.Namespace, workdir: Path) -> list[str]:
    tests, runs = arguments.pytest_loop_tests, arguments.pytest_loop_runs
    if tests < 2 or runs < 1:
        return ["pytest_loop: --pytest-loop-tests must be at least 2 and --pytest-loop-runs at least 1"]
    contenders = [Contender("dify-mock", tests, MOCK_TESTS), Contender("bare pytest", tests, BARE_TESTS)]
    fresh_tests = arguments.pytest_loop_fresh_tests
    if fresh_tests >= 2:
        contenders.append(Contender("fresh per test", fresh_tests, MOCK_TESTS))
    results: dict[str, list[LoopRun]] = {contender.name: [] for contender in contenders}
    try:
        for contender in contenders:
            write_project(workdir / contender.name.replace(" ", "-"), contender)
        for index in range(runs):
            for contender in contenders:
                if contender.name.startswith("fresh") and index > 0:
                    continue  # one run shows the old cost; it is slow and its spread is not the point
                folder = workdir / contender.name.replace(" ", "-")
                results[contender.name].append(run_once(folder, contender, index))
    except (BenchError, OSError, subprocess.TimeoutExpired) as error:
        return [f"pytest_loop: {error}"]
    print_report(contenders, results)
    return []


def print_report(contenders: list[Contender], results: dict[str, list[LoopRun]]) -> None:
    header = (
        f"{'suite':<16} {'tests':>5} {'ms/test p50':>11} {'min':>7} {'max':>7} "
        f"{'first done s':>12} {'total s':>8} {'runs':>5}"
    )
    print(header)
    print("-" * len(header))
    for contender in contenders:
        found = results[contender.name]
        per_test = [run.per_test * 1000 for run in found]
        print(
            f"{contender.name:<16} {contender.tests:>5} {percentile(per_test, 0.5):>11.2f} {min(per_test):>7.2f} "
            f"{max(per_test):>7.2f} {percentile([run.first_done for run in found], 0.5):>12.2f} "
            f"{percentile([run.total for run in found], 0.5):>8.2f} {len(found):>5}"
        )
    mock = percentile([run.per_test for run in results["dify-mock"]], 0.5) * 1000
    bare = percentile([run.per_test for run in results["bare pytest"]], 0.5) * 1000
    print()
    print(
        f"Each dify-mock test adds a rule, calls a tool that makes one reverse LLM call, and reads the journal: "
        f"{mock:.2f} ms per test after the first (target under 15 ms: {'met' if mock < 15 else 'MISSED'}), of "
        f"which {mock - bare:.2f} ms beyond bare "
        f"pytest. 'first done': from spawning pytest until the first test's body had run (the mock and the "
        f"plugin start in its set-up). ms/test = (end of the last test's body - end of the first's) / (tests - 1): "
        f"set-up, body and teardown of every test but the first, without the session's own teardown."
    )
