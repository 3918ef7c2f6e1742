"""One plugin, checked from its files to its reverse calls: the steps of `dify-mock check`, in order.

1. the files, as the daemon validates them (`static.py`);
2. its environment, made from its dependency files and cached by their hash (`plugins/environments.py`);
3. a mock that starts it as Dify's daemon does (`dify-mock run`, over stdin and stdout), and waits until it
   registers, telling a crash, a hang and garbage on stdout apart;
4. each entry point called with the request Dify builds (`invocations.py`, `models.py`, `triggers.py`), with the
   network closed (`network.py`), and judged by one rule table (`verdicts.py`);
5. its reverse calls against its manifest (`permissions.py`).

A watchdog (`watchdog.py`) takes the mock, the plugin and the temporary folder with it, however the check ends.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from dify_mock.check.findings import Finding, PluginReport, Status
from dify_mock.check.inputs import Inputs
from dify_mock.check.invocations import (
    EntryPoint,
    Session,
    Tracebacks,
    agent_strategies,
    datasources,
    endpoints,
    invoke,
    tools,
)
from dify_mock.check.models import model_entry_points
from dify_mock.check.network import RefusingProxy
from dify_mock.check.permissions import audit_reverse_calls
from dify_mock.check.static import check_files, permission_line
from dify_mock.check.triggers import trigger_entry_points
from dify_mock.check.watchdog import Watchdog
from dify_mock.plugins.environments import DEFAULT_CACHE_DIR, PluginEnvironmentError, prepare_environment
from dify_mock.plugins.packages import PackageError, unpack
from dify_mock.protocol.words import plural
from dify_mock.testing import MockServer

Progress = Callable[[str], None]
CRASHED = "before it was ready"  # how the supervisor reports a plugin that exited while starting


@dataclass(frozen=True)
class CheckOptions:
    python: str | None = None  # the plugin's interpreter; default: an environment made from its dependency files
    cache_dir: Path = DEFAULT_CACHE_DIR  # environments (venvs/) and unpacked packages (packages/)
    start_timeout: float = 60.0
    invoke_timeout: float = 60.0
    fixtures: tuple[Path, ...] = field(default_factory=tuple)
    keep_logs: Path | None = None  # copy the mock's log here
    inputs: Inputs = field(default_factory=Inputs)  # the user's own values (check --inputs)


def check_plugin(target: Path, options: CheckOptions, progress: Progress = lambda _: None) -> PluginReport:
    started = time.monotonic()
    report = PluginReport(path=str(target))
    try:
        _check(target, options, progress, report)
    finally:
        report.seconds = round(time.monotonic() - started, 2)
    return report


def _check(target: Path, options: CheckOptions, progress: Progress, report: PluginReport) -> None:
    root = target
    if target.is_file():
        progress("unpacking")
        try:
            root = unpack(target, options.cache_dir / "packages", lambda _: None)
        except PackageError as error:
            report.add(Finding("package", Status.FAIL, str(error), target.name))
            return
        report.add(Finding("package", Status.PASS, f"a zip with manifest.yaml at its root, unpacked to {root}"))
    elif not target.is_dir():
        report.add(Finding("plugin", Status.FAIL, f"{target} is neither a plugin folder nor a .difypkg"))
        return
    progress("reading files")
    folder = check_files(root, report)
    if folder is None:
        return
    if report.failed():
        report.add(Finding("start", Status.SKIP, "not started: Dify would refuse or fail to load the files above"))
        return
    python = options.python
    if python is None:
        progress("making its environment")
        lines: list[str] = []
        started = time.monotonic()
        try:
            python = prepare_environment(root, options.cache_dir / "venvs", None, lines.append, name=report.plugin_id)
        except PluginEnvironmentError as error:
            report.add(Finding("environment", Status.FAIL, str(error), seconds=time.monotonic() - started))
            return
        made_in = time.monotonic() - started
        report.add(Finding("environment", Status.PASS, lines[-1] if lines else "ready", seconds=made_in))
    _run(root, python, folder.declarations, folder.manifest, options, progress, report)


def _run(
    root: Path,
    python: str,
    declarations: dict[str, list[dict[str, Any]]],
    manifest: dict[str, Any],
    options: CheckOptions,
    progress: Progress,
    report: PluginReport,
) -> None:
    assert report.plugin_id is not None
    watchdog = Watchdog()
    proxy = RefusingProxy()
    data_dir = Path(tempfile.mkdtemp(prefix="dify-mock-check-"))
    watchdog.remove_later(data_dir)
    tracebacks = Tracebacks(data_dir / "tracebacks.jsonl")
    mock = MockServer(
        data_dir,
        fixtures=options.fixtures,
        run_plugin=root.resolve(),
        plugin_python=python,
        env={**proxy.environment(), **watchdog.environment(), **tracebacks.environment()},
        extra_args=["--invoke-timeout", str(options.invoke_timeout)],
    )
    mock.request_timeout = options.invoke_timeout + 5
    mock.startup_timeout = max(mock.startup_timeout, options.start_timeout)  # a loaded machine starts slowly
    try:
        progress("starting")
        try:
            mock.start()
        except RuntimeError as error:
            report.add(Finding("start", Status.FAIL, f"the mock could not start the plugin: {_tail(str(error))}"))
            return
        if not _registered(mock, report, options, progress):
            return
        session = Session(mock, report.plugin_id, options.inputs)
        points = entry_points(session, with_listed_forms(root, manifest, declarations))
        for index, point in enumerate(points, 1):
            progress(f"invoking {index}/{len(points)}: {point.name}")
            report.add(invoke(point, proxy, root, tracebacks))
        entries = mock.journal(kind="reverse", plugin_id=report.plugin_id)
        audit_reverse_calls(entries, dict(manifest), report, permission_line(root))
    finally:
        if options.keep_logs is not None and mock.log_path.is_file():
            options.keep_logs.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(mock.log_path, options.keep_logs)
        mock.stop()
        proxy.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        watchdog.close()  # and whatever the plugin forked goes too


def entry_points(session: Session, declarations: dict[str, list[dict[str, Any]]]) -> list[EntryPoint]:
    kinds = (
        ("tools", tools),
        ("agent_strategies", agent_strategies),
        ("models", model_entry_points),
        ("endpoints", endpoints),
        ("datasources", datasources),
        ("triggers", trigger_entry_points),
    )
    return [
        point for kind, build in kinds for provider in declarations.get(kind, []) for point in build(session, provider)
    ]


def with_listed_forms(
    root: Path, manifest: dict[str, Any], declarations: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """A tool provider's `credentials_schema:` list, which the SDK's reading drops but the daemon prefers to
    `credentials_for_provider:` and so Dify shows as the provider's form."""
    listed: dict[str, list[Any]] = {}
    for relative in (manifest.get("plugins") or {}).get("tools") or []:
        try:
            raw = yaml.safe_load((root / str(relative)).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(raw, dict) and isinstance(raw.get("credentials_schema"), list) and raw["credentials_schema"]:
            listed[str((raw.get("identity") or {}).get("name"))] = raw["credentials_schema"]
    tools = []
    for provider in declarations.get("tools", []):
        name = str(provider["identity"]["name"])
        if name in listed:
            provider = {**provider, "credentials_schema": listed[name]}
        tools.append(provider)
    return {**declarations, "tools": tools} if declarations.get("tools") else declarations


def _registered(mock: MockServer, report: PluginReport, options: CheckOptions, progress: Progress) -> bool:
    assert report.plugin_id is not None
    started = time.monotonic()
    deadline = started + options.start_timeout
    while time.monotonic() < deadline:
        if report.plugin_id in mock.plugin_ids():
            seconds = time.monotonic() - started
            report.registered = True
            report.add(Finding("start", Status.PASS, f"started and registered in {seconds:.1f} s", seconds=seconds))
            return True
        if not mock.running or CRASHED in mock.log():
            break  # the daemon would restart it, again and again: one crash says enough
        progress(f"starting ({time.monotonic() - started:.0f} s)")
        time.sleep(0.2)
    report.add(Finding("start", Status.FAIL, _why_not_registered(mock, options), seconds=time.monotonic() - started))
    return False


def _why_not_registered(mock: MockServer, options: CheckOptions) -> str:
    log = mock.log()
    crash = log.rfind(CRASHED)
    if crash >= 0:
        begin = log.rfind("plugin ", 0, crash)
        report = log[begin : log.find("starting it again", crash)].strip()
        return f"the plugin exited before it registered: {report}"
    stdout = [entry for entry in _journal(mock, "log") if (entry.get("request") or {}).get("source") == "stdout"]
    if stdout:
        first = str(stdout[0]["request"].get("message", ""))[:200]
        return (
            f"the plugin wrote {plural(len(stdout), 'line')} on stdout that are not the protocol (the first: {first!r}) and "
            f"did not register within {options.start_timeout:.0f} s: over stdio, stdout is the daemon's channel, "
            "so print to stderr or use the SDK's logger"
        )
    return (
        f"the plugin did not register within {options.start_timeout:.0f} s: it hangs at start-up "
        f"(--start-timeout if it is only slow); the mock's log ends:\n{_tail(log, 12)}"
    )


def _journal(mock: MockServer, kind: str) -> list[dict[str, Any]]:
    try:
        return mock.journal(kind=kind)
    except httpx.HTTPError:  # the mock itself went away: the report says what its log says
        return []


def _tail(text: str, lines: int = 1) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(kept)
