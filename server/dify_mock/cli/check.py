"""`dify-mock check PLUGIN ...`: what Dify would do with a plugin, offline, before it is published.

    dify-mock check .                        # a plugin folder
    dify-mock check my_plugin.difypkg        # a package, unpacked as the daemon installs it
    dify-mock check a/ b/ --json             # one JSON report per plugin, one per line
    dify-mock check . --junit report.xml     # and a JUnit file for CI; --strict: warnings fail too
    dify-mock check . --inputs inputs.yaml   # your own parameters, credentials and webhooks (docs/check-inputs.md)

Each entry point is verified (it ran to a normal answer), not exercised (and why: it needs network, real
credentials or OAuth, refused our sample input, answered only with an error, hung, or Dify would not reach it), or
a plugin bug (a crash on a request Dify would send, with the plugin's file and line).

Exit status: 0 when nothing failed, 1 when something did, 2 when the command line is wrong, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO
from xml.etree import ElementTree

from dify_mock.check.findings import PluginReport, Status
from dify_mock.check.inputs import Inputs
from dify_mock.cli.console import UsageError, seconds
from dify_mock.cli.options import add_settings_options

MARKS = {
    Status.PASS: ("✓", "32"),
    Status.WARN: ("!", "33"),
    Status.FAIL: ("✗", "31"),
    Status.SKIP: ("-", "2"),
}


def add_check_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], help_text: str) -> None:
    check = commands.add_parser(
        "check",
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("plugins", nargs="+", type=Path, metavar="PLUGIN", help="a plugin folder or a .difypkg")
    check.add_argument("--json", action="store_true", help="print one JSON report per plugin instead of text")
    check.add_argument("--junit", type=Path, metavar="FILE", help="also write a JUnit XML report")
    check.add_argument("--strict", action="store_true", help="warnings fail too")
    check.add_argument(
        "--python",
        help="the Python that runs the plugin (default: an environment made from its pyproject.toml and uv.lock, or "
        "requirements.txt, cached by their hash)",
    )
    add_settings_options(check, ("cache_dir",))
    check.add_argument("--fixtures", type=Path, action="append", default=[], help="rules for its reverse calls")
    check.add_argument("--start-timeout", type=seconds, default=60.0, help="seconds to wait for it to register")
    check.add_argument("--invoke-timeout", type=seconds, default=60.0, help="seconds to wait for each invocation")
    check.add_argument("--keep-logs", type=Path, metavar="DIR", help="keep the mock's log of each plugin here")
    check.add_argument(
        "--inputs",
        type=Path,
        metavar="FILE",
        help="a YAML file of your own parameters, credentials, models and webhook requests, keyed by the names the "
        "check prints (docs/check-inputs.md)",
    )
    check.set_defaults(run=run_check)


def run_check(arguments: argparse.Namespace) -> int:
    from dify_mock.check.inputs import InputsError, load_inputs  # the mock's client: more than the parser needs

    try:
        inputs = load_inputs(arguments.inputs)
    except InputsError as error:
        print(f"dify-mock check: --inputs {error}", file=sys.stderr)
        return 2
    # A SIGTERM (a CI timeout, a sweep stopped) unwinds like Ctrl-C, so the mock and the plugin it started go too;
    # a SIGKILL is the watchdog's to clean up after.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for target in arguments.plugins:
        if not target.exists():
            raise UsageError(f"{target}: no such plugin folder or .difypkg")
    try:
        return _run(arguments, inputs)
    except KeyboardInterrupt:
        print(
            "\ndify-mock check: interrupted; the mock, the plugin and their temporary files are gone", file=sys.stderr
        )
        return 130


def _run(arguments: argparse.Namespace, inputs: Inputs) -> int:
    from dify_mock.check.runner import CheckOptions, check_plugin

    progress = Progress(sys.stderr, len(arguments.plugins), enabled=not arguments.json)
    reports = []
    for index, target in enumerate(arguments.plugins, 1):
        logs = arguments.keep_logs / f"{index:03d}-{target.resolve().name}.log" if arguments.keep_logs else None
        options = CheckOptions(
            python=arguments.python,
            cache_dir=arguments.cache_dir,
            start_timeout=arguments.start_timeout,
            invoke_timeout=arguments.invoke_timeout,
            fixtures=tuple(arguments.fixtures),
            keep_logs=logs,
            inputs=inputs,
        )
        report = check_plugin(target, options, progress.for_plugin(index, str(target)))
        progress.clear()
        reports.append(report)
        if arguments.json:
            print(json.dumps(report.to_json(), ensure_ascii=False), flush=True)
        else:
            print_report(report, arguments.strict, sys.stdout)
    if arguments.junit:
        write_junit(reports, arguments.strict, arguments.junit)
    return 1 if any(report.failed(arguments.strict) for report in reports) else 0


class Progress:
    """One line on stderr, rewritten in place, while a plugin is prepared and started: only on a terminal."""

    def __init__(self, stream: TextIO, total: int, enabled: bool) -> None:
        self.stream = stream
        self.total = total
        self.enabled = enabled and stream.isatty()
        self.started = time.monotonic()

    def for_plugin(self, index: int, name: str) -> Callable[[str], None]:
        return lambda step: self.show(index, name, step)

    def show(self, index: int, name: str, step: str) -> None:
        if not self.enabled:
            return
        done = int(20 * (index - 1) / self.total)
        bar = "█" * done + "░" * (20 - done)
        line = f"\r{bar} {index}/{self.total} {name}: {step}"[: _columns()]
        self.stream.write(line + "\033[K")
        self.stream.flush()

    def clear(self) -> None:
        if self.enabled:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _columns() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except OSError:
        return 100


def print_report(report: PluginReport, strict: bool, stream: TextIO) -> None:
    color = stream.isatty() and not os.environ.get("NO_COLOR")

    def paint(text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if color else text

    title = " ".join(part for part in (report.plugin_id or report.path, report.version, report.category) if part)
    print(paint(title, "1") + f"  ({report.path})", file=stream)
    width = max((len(finding.check) for finding in report.findings), default=10)
    for finding in report.findings:
        status = finding.status
        if status is Status.WARN and strict:
            status = Status.FAIL
        mark, code = MARKS[status]
        where = f"{finding.where}: " if finding.where else ""
        if finding.entry_point and status is Status.FAIL:
            where = f"plugin bug at {finding.where}: " if finding.where else "plugin bug: "
        elif finding.entry_point and status is Status.SKIP:
            where = f"{finding.reason}: " if finding.reason else ""
        lines = f"{where}{finding.message}".splitlines() or [""]
        print(f"  {paint(mark, code)} {finding.check:<{width}}  {lines[0]}", file=stream)
        for more in lines[1:]:
            print(f"  {'':<{width + 2}}  {more}", file=stream)
    if report.reverse_calls:
        calls = ", ".join(f"{kind} {count}" for kind, count in report.reverse_calls.items())
        print(f"  reverse calls: {calls}", file=stream)
    verdict = paint("FAILED", "31;1") if report.failed(strict) else paint("OK", "32;1")
    print(f"  {verdict}: {report.summary()}; {report.seconds:.1f} s\n", file=stream)


def write_junit(reports: list[PluginReport], strict: bool, path: Path) -> None:
    suites = ElementTree.Element("testsuites", name="dify-mock check")
    for report in reports:
        counts = report.counts()
        failures = counts["fail"] + (counts["warn"] if strict else 0)
        suite = ElementTree.SubElement(
            suites,
            "testsuite",
            name=report.plugin_id or report.path,
            tests=str(len(report.findings)),
            failures=str(failures),
            skipped=str(counts["skip"]),
            time=f"{report.seconds:.3f}",
        )
        for finding in report.findings:
            case = ElementTree.SubElement(
                suite,
                "testcase",
                classname=report.plugin_id or report.path,
                name=finding.check,
                time=f"{finding.seconds:.3f}",
            )
            text = f"{finding.where}: {finding.message}" if finding.where else finding.message
            if finding.status is Status.FAIL or (finding.status is Status.WARN and strict):
                ElementTree.SubElement(case, "failure", message=text.splitlines()[0] if text else "").text = text
            elif finding.status is Status.SKIP:
                ElementTree.SubElement(case, "skipped", message=text)
            else:
                ElementTree.SubElement(case, "system-out").text = text
    path.parent.mkdir(parents=True, exist_ok=True)
    ElementTree.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)
