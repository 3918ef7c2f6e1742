"""`dify-mock check` over every plugin of a dify-official-plugins checkout, into docs/official-plugins.md.

    python -m bench.official_sweep /path/to/dify-official-plugins [--jobs 2] [--only tools] [--out FILE]

It fetches nothing: the checkout is yours. Each plugin is checked in its own `dify-mock check --json` process;
environments are cached by the hash of their dependency files under --cache-dir, so a second sweep reuses them.
Every failure is classified: the plugin's own bug, a third-party service it needs, a dependency that will not
install here, or a dify-mock defect (the mock answered with an HTTP error, or the check itself broke).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dify_mock.plugins.environments import DEFAULT_CACHE_DIR

CATEGORIES = ("tools", "models", "extensions", "agent-strategies", "datasources", "triggers")
STATIC = {"manifest", "declarations", "python sources", "icons", "dependencies", "size", "package", "plugin"}
PLUGIN_BUG = "plugin's own bug"
NEEDS_SERVICE = "needs a third-party service"
DEPENDENCY = "dependency will not install here"
MOCK_DEFECT = "dify-mock defect"
REFUSED_INPUT = "refused the made-up input"  # a deliberate, clear error on values its schema allows: not a crash
CRASHES = (
    "KeyError", "AttributeError", "TypeError", "NameError", "UnboundLocalError", "IndexError", "NotImplementedError",
    "JSONDecodeError", "ImportError", "ModuleNotFoundError", "ZeroDivisionError", "RecursionError", "UnicodeDecodeError",
)  # fmt: skip
# ValueErrors that Python raises itself, not the plugin: a crash too
BUILTIN_VALUE_ERRORS = ("could not convert string to", "invalid literal for int()", "values to unpack")
INVOCATIONS = ("tool ", "agent strategy ", "model ", "endpoint ", "datasource ", "trigger ")
INCOMPLETE = "checkout incomplete"  # files the checkout's git index has but its work tree lacks
MOCK_WORDS = (
    "the mock answered HTTP",
    "the mock could not be reached",
    "the mock could not start",
    "dify-mock check crashed",
)
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    folder: Path
    category: str
    report: dict[str, Any]
    outcome: str  # ok, or one of the classes above
    detail: str


def plugin_folders(checkout: Path, only: list[str]) -> list[tuple[str, Path]]:
    found = []
    for category in only or CATEGORIES:
        base = checkout / category
        for folder in sorted(base.iterdir()) if base.is_dir() else []:
            if (folder / "manifest.yaml").is_file():
                found.append((category, folder))
    return found


def check(folder: Path, arguments: argparse.Namespace) -> dict[str, Any]:
    logs = arguments.logs / folder.parent.name
    command = [
        sys.executable, "-m", "dify_mock", "check", str(folder), "--json",
        "--cache-dir", str(arguments.cache_dir), "--keep-logs", str(logs),
        "--start-timeout", str(arguments.start_timeout), "--invoke-timeout", str(arguments.invoke_timeout),
    ]  # fmt: skip
    env = {key: value for key, value in os.environ.items() if not key.startswith("DIFY_MOCK_")}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=arguments.plugin_timeout, env=env)
    except subprocess.TimeoutExpired:
        return {
            "path": str(folder),
            "crashed": f"dify-mock check crashed: no report within {arguments.plugin_timeout} s",
        }
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        return {"path": str(folder), "crashed": f"dify-mock check crashed (exit {done.returncode}): {tail}"}
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def classify(report: dict[str, Any]) -> tuple[str, str]:
    if "crashed" in report:
        return MOCK_DEFECT, report["crashed"]
    failures = [finding for finding in report["findings"] if finding["status"] == "fail"]
    if not failures:
        network = [finding for finding in report["findings"] if finding["status"] == "network"]
        if network:
            return NEEDS_SERVICE, "needs network: " + ", ".join(report.get("hosts") or ["a host it did not name"])
        return "ok", ""
    first = failures[0]
    text = f"{first['check']}: {first['message']}"
    if any(words in finding["message"] for finding in failures for words in MOCK_WORDS):
        defect = next(f for f in failures if any(words in f["message"] for words in MOCK_WORDS))
        return MOCK_DEFECT, f"{defect['check']}: {defect['message']}"
    if first["check"] == "environment":
        return DEPENDENCY, text
    crashes = [finding for finding in failures if not finding["check"].startswith(INVOCATIONS) or crashed(finding)]
    if crashes:
        return PLUGIN_BUG, f"{crashes[0]['check']}: {crashes[0]['message']}"
    return REFUSED_INPUT, text


def crashed(finding: dict[str, Any]) -> bool:
    """An invocation that ended in an error no plugin raises on purpose, or in a bare KeyError wrapped by the SDK."""
    message = finding["message"]
    error_type = message.split(":", 1)[0]
    builtin = error_type == "ValueError" and any(words in message for words in BUILTIN_VALUE_ERRORS)
    return error_type in CRASHES or builtin or bool(re.search(r"Error[:,] '[\w.-]+'$", message))


def markdown(rows: list[Row], arguments: argparse.Namespace) -> str:
    run = arguments.run
    outcomes: dict[str, int] = {}
    for row in rows:
        outcomes[row.outcome] = outcomes.get(row.outcome, 0) + 1
    installed = [row for row in rows if row.outcome != DEPENDENCY and not row.report.get("crashed")]
    static_ok = [row for row in installed if not _static_failure(row.report)]
    registered = [row for row in rows if row.report.get("registered")]
    invoked = sum(row.report.get("invoked", 0) for row in rows)
    entry_points = sum(row.report.get("entry_points", 0) for row in rows)
    lines = [
        "# The official plugins under `dify-mock check`",
        "",
        "Made by:",
        "",
        "```sh",
        f"make official-sweep OFFICIAL={arguments.checkout_label}",
        "```",
        "",
        f"- checkout: `{_git(arguments.checkout, 'log', '-1', '--format=%H (%cs)')}`",
        f"- dify-mock: `{run['dify_mock']}`; finished {run['finished']}; {run['seconds'] / 60:.0f} min with {run['jobs']} jobs"
        f" on {os.cpu_count()} cores",
        "- no network: every call to a third-party service is refused by the check's proxy, and named",
        "",
        "## Summary",
        "",
        f"- plugins: {len(rows)}",
        f"- dependencies installed: {len(installed)}; of those with valid files, registered: "
        f"{sum(1 for row in static_ok if row.report.get('registered'))} of {len(static_ok)}",
        f"- registered: {len(registered)}; entry points invoked: {invoked} of {entry_points}",
        "",
        "| outcome | plugins |",
        "|---|---|",
        *(f"| {outcome} | {count} |" for outcome, count in sorted(outcomes.items(), key=lambda item: -item[1])),
        "",
        "- **ok**: every entry point answered (a provider that refused made-up credentials counts as answered);",
        f"- **{NEEDS_SERVICE}**: nothing failed but calls to the hosts named, which the check's proxy refused;",
        f"- **{REFUSED_INPUT}**: an entry point raised a deliberate error on values its declared schema allows "
        "(a string where it wanted JSON or a number, say): worth a look, but no crash;",
        f"- **{PLUGIN_BUG}**: files the daemon or the SDK refuses, a start that fails, a permission the manifest "
        "lacks, or a crash (KeyError, AttributeError, NotImplementedError...) on values the schema allows;",
        f"- **{DEPENDENCY}**: `uv sync --frozen` fails here (a git dependency, a mirror outside the registries);",
        f"- **{INCOMPLETE}**: the checkout lacks files of the plugin (`git status` shows them deleted);",
        f"- **{MOCK_DEFECT}**: the mock answered an HTTP error, or the check itself broke: "
        + (f"{outcomes[MOCK_DEFECT]} in this sweep, to fix." if outcomes.get(MOCK_DEFECT) else "none in this sweep."),
        "",
        "## Plugins",
        "",
        "| plugin | category | registered | invoked | reverse calls | outcome | first failure, or the hosts it needs |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        report = row.report
        calls = ", ".join(f"{kind} {count}" for kind, count in (report.get("reverse_calls") or {}).items()) or ""
        invoked_text = f"{report.get('invoked', 0)}/{report.get('entry_points', 0)}" if report.get("registered") else ""
        detail = row.detail.replace("|", "\\|").replace("\n", " ")
        detail = detail if len(detail) <= 220 else detail[:219] + "…"
        lines.append(
            f"| {row.category}/{row.folder.name} | {row.category} | {'yes' if report.get('registered') else 'no'} "
            f"| {invoked_text} | {calls} | {row.outcome} | {detail} |"
        )
    return "\n".join(lines) + "\n"


def _static_failure(report: dict[str, Any]) -> bool:
    return any(f["status"] == "fail" and f["check"] in STATIC for f in report.get("findings") or [])


def missing_files(checkout: Path) -> list[str]:
    """Files deleted from the work tree (a blob the clone could not fetch, say): their plugins cannot be judged."""
    status = _git(checkout, "status", "--porcelain", "--no-renames", strip=False)
    return [line[3:] for line in status.splitlines() if line.startswith(" D ")]


def _git(folder: Path, *args: str, strip: bool = True) -> str:
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=30)
    except OSError:
        return "unknown"
    if done.returncode != 0:
        return "not a git checkout"
    return done.stdout.strip() if strip else done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.official_sweep", description=__doc__)
    parser.add_argument("checkout", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", action="append", choices=CATEGORIES, default=[])
    parser.add_argument("--limit", type=int, default=0, help="only the first N plugins (0: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "official-plugins.md")
    parser.add_argument("--raw", type=Path, default=ROOT / ".dify-mock" / "official-sweep", help="reports and logs")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
    parser.add_argument("--start-timeout", type=float, default=90.0)
    parser.add_argument("--invoke-timeout", type=float, default=60.0)
    parser.add_argument("--plugin-timeout", type=float, default=1800.0)
    parser.add_argument(
        "--from-raw", action="store_true", help="no checks: write --out again from the reports a sweep left in --raw"
    )
    arguments = parser.parse_args(argv)
    if not (arguments.checkout / "tools").is_dir():
        parser.error(f"{arguments.checkout} is not a dify-official-plugins checkout (no tools/ folder)")
    arguments.checkout_label = str(arguments.checkout)
    arguments.checkout = arguments.checkout.resolve()
    arguments.logs = arguments.raw / "logs"
    arguments.raw.mkdir(parents=True, exist_ok=True)
    folders = plugin_folders(arguments.checkout, arguments.only)
    if arguments.limit:
        folders = folders[: arguments.limit]
    started = time.monotonic()
    rows: list[Row] = []

    missing = missing_files(arguments.checkout)

    def one(item: tuple[str, Path]) -> Row:
        category, folder = item
        saved = arguments.raw / f"{category}--{folder.name}.json"
        report = json.loads(saved.read_text()) if arguments.from_raw else check(folder, arguments)
        outcome, detail = classify(report)
        lacking = [path for path in missing if path.startswith(f"{category}/{folder.name}/")]
        if lacking and outcome != "ok":
            outcome, detail = INCOMPLETE, f"the checkout lacks {', '.join(lacking)}; {detail}"
        (arguments.raw / f"{category}--{folder.name}.json").write_text(json.dumps(report, indent=1))
        print(f"{len(rows) + 1:>4}/{len(folders)} {category}/{folder.name}: {outcome} {detail[:120]}", flush=True)
        row = Row(folder, category, report, outcome, detail)
        rows.append(row)
        return row

    with ThreadPoolExecutor(arguments.jobs) as pool:
        ordered = list(pool.map(one, folders))
    run = arguments.raw / "sweep.json"
    if not arguments.from_raw:
        finished = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        facts = {"seconds": time.monotonic() - started, "jobs": arguments.jobs, "finished": finished}
        run.write_text(json.dumps({**facts, "dify_mock": _git(ROOT, "describe", "--always", "--dirty")}))
    arguments.run = json.loads(run.read_text())
    arguments.out.write_text(markdown(ordered, arguments))
    print(f"wrote {arguments.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
