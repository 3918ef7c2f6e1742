"""`dify-mock check` over every plugin of a dify-official-plugins checkout, into docs/official-plugins.md.

    python -m bench.official_sweep /path/to/dify-official-plugins [--jobs 2] [--only tools] [--out FILE]

It fetches nothing: the checkout is yours. Each plugin is checked in its own `dify-mock check --json` process;
environments are cached by the hash of their dependency files under --cache-dir, so a second sweep reuses them.
Each entry point's verdict comes from the check's one rule table (dify_mock.check.findings.RULES): verified, not
exercised (and why), or a plugin bug at a file and line. Here they are only counted, per entry point and per
plugin, and compared with the hand-checked sample in bench/official_sample.yaml.
"""

from __future__ import annotations

import argparse
import json
import os
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
# A plugin's outcome, from its entry points' verdicts (findings.RULES) and its other checks
VERIFIED = "verified"  # every entry point verified
PARTLY = "partly verified"  # some verified, none a bug
NOT_EXERCISED = "not exercised"  # none verified, none a bug
PLUGIN_BUG = "plugin bug"
DEPENDENCY = "dependency will not install here"
MOCK_DEFECT = "dify-mock defect"
INCOMPLETE = "checkout incomplete"  # files the checkout's git index has but its work tree lacks
MOCK_WORDS = ("dify-mock defect", "the mock could not start", "dify-mock check crashed")
SAMPLE = Path(__file__).with_name("official_sample.yaml")  # the hand-checked rows
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    folder: Path
    category: str
    report: dict[str, Any]
    outcome: str  # one of the outcomes above
    detail: str


def interleaved(folders: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """One of each category in turn, so that a sweep stopped early has seen every kind."""
    queues = {category: [item for item in folders if item[0] == category] for category in CATEGORIES}
    order: list[tuple[str, Path]] = []
    while any(queues.values()):
        for queue in queues.values():
            if queue:
                order.append(queue.pop(0))
    return order


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
    """The plugin's outcome and what to show for it: the first bug or defect, else its summary line."""
    if "crashed" in report:
        return MOCK_DEFECT, report["crashed"]
    findings = report.get("findings") or []
    defects = [f for f in findings if f["status"] == "fail" and any(words in f["message"] for words in MOCK_WORDS)]
    if defects:
        return MOCK_DEFECT, f"{defects[0]['check']}: {defects[0]['message']}"
    failures = [finding for finding in findings if finding["status"] == "fail"]
    if failures and failures[0]["check"] == "environment":
        return DEPENDENCY, f"environment: {failures[0]['message']}"
    if failures:
        first = failures[0]
        where = f" ({first['file']}:{first['line']})" if first.get("file") and first.get("line") else ""
        return PLUGIN_BUG, f"{first['check']}{where}: {first['message']}"
    points = [finding for finding in findings if finding.get("entry_point")]
    verified = sum(1 for finding in points if finding["verdict"] == "verified")
    outcome = VERIFIED if points and verified == len(points) else PARTLY if verified else NOT_EXERCISED
    return outcome, str(report.get("summary") or "")


def entry_point_counts(rows: list[Row]) -> dict[str, int]:
    """Every entry point's verdict, counted: verified, not exercised: <reason>, plugin bug, dify-mock defect."""
    counts: dict[str, int] = {}
    for row in rows:
        for finding in row.report.get("findings") or []:
            if finding.get("entry_point"):
                verdict = finding["verdict"]
                if any(words in finding["message"] for words in MOCK_WORDS):
                    verdict = MOCK_DEFECT
                counts[verdict] = counts.get(verdict, 0) + 1
    return counts


def markdown(rows: list[Row], arguments: argparse.Namespace) -> str:
    from dify_mock.check.findings import RULES

    run = arguments.run
    outcomes: dict[str, int] = {}
    for row in rows:
        outcomes[row.outcome] = outcomes.get(row.outcome, 0) + 1
    points = entry_point_counts(rows)
    total = sum(points.values())
    skipped = {verdict: count for verdict, count in points.items() if verdict.startswith("not exercised")}
    registered = [row for row in rows if row.report.get("registered")]
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
        f"- dify-mock: `{run['dify_mock']}`; finished {run['finished']}; {run['seconds'] / 60:.0f} min with "
        f"{run['jobs']} jobs on {os.cpu_count()} cores",
        "- no network: every call to a third-party service is refused by the check's proxy, which names the host",
        "- each entry point gets the request Dify's API would build (see `dify-mock check --help` and the builders'",
        "  comments, which name the Dify function each follows), with values a user would give",
        *(f"- {note}" for note in arguments.note),
        "",
        "## How an entry point is judged",
        "",
        "One rule table, in `server/dify_mock/check/findings.py` (`RULES`), applied by `check/verdicts.py` and only",
        "counted here. The first rule that holds decides:",
        "",
        "| verdict | when |",
        "|---|---|",
        *(f"| {verdict} | {_cell(when)} |" for verdict, when in RULES),
        "",
        "A plugin is **verified** when all its entry points are, **partly verified** when some are and none is a bug,",
        "**not exercised** when none is and none is a bug, a **plugin bug** when an entry point is one (or its files,",
        "start or permissions fail), a **dify-mock defect** when the mock answered an HTTP error or the check broke.",
        "",
        "## Summary",
        "",
        f"- plugins: {len(rows)}; registered: {len(registered)}"
        + (f"; not checked in this run: {arguments.unchecked} (it was stopped first)" if arguments.unchecked else ""),
        f"- entry points: {total}; verified: {points.get('verified', 0)}; not exercised: {sum(skipped.values())}; "
        f"plugin bugs: {points.get('plugin bug', 0)}; dify-mock defects: {points.get(MOCK_DEFECT, 0)}",
        "",
        "| plugins | count |",
        "|---|---|",
        *(f"| {outcome} | {count} |" for outcome, count in sorted(outcomes.items(), key=lambda item: -item[1])),
        "",
        "| entry points | count |",
        "|---|---|",
        *(f"| {verdict} | {count} |" for verdict, count in sorted(points.items(), key=lambda item: -item[1])),
        "",
        "## Plugins",
        "",
        "| plugin | outcome | verified | not exercised, and why | plugin bugs | hosts it asked for |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        report = row.report
        found = [finding for finding in report.get("findings") or [] if finding.get("entry_point")]
        verified = f"{report.get('verified', 0)}/{report.get('entry_points', 0)}" if report.get("registered") else ""
        reasons = ", ".join(f"{reason} {count}" for reason, count in (report.get("not_exercised") or {}).items())
        bugs = [finding for finding in found if finding["verdict"] == "plugin bug"]
        bug_text = "; ".join(_bug(finding) for finding in bugs) if bugs else ""
        if row.outcome in (PLUGIN_BUG, MOCK_DEFECT, DEPENDENCY, INCOMPLETE) and not bugs:
            bug_text = row.detail
        hosts = ", ".join(report.get("hosts") or [])
        lines.append(
            f"| {row.category}/{row.folder.name} | {row.outcome} | {verified} | {_cell(reasons)} "
            f"| {_cell(bug_text, 260)} | {_cell(hosts, 120)} |"
        )
    lines += sample_section(rows)
    return "\n".join(lines) + "\n"


def _bug(finding: dict[str, Any]) -> str:
    where = f" at {finding['file']}:{finding['line']}" if finding.get("file") else ""
    return f"{finding['check']}{where}: {finding['message']}"


def _cell(text: str, limit: int = 400) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sample_section(rows: list[Row]) -> list[str]:
    """The hand-checked rows of bench/official_sample.yaml against this sweep's verdicts."""
    import yaml

    if not SAMPLE.is_file():
        return []
    sample = yaml.safe_load(SAMPLE.read_text(encoding="utf-8")) or {}
    verdicts = {
        (f"{row.category}/{row.folder.name}", finding["check"]): finding["verdict"]
        for row in rows
        for finding in row.report.get("findings") or []
        if finding.get("entry_point")
    }
    table = []
    agreed = 0
    for item in sample.get("rows") or []:
        swept = verdicts.get((item["plugin"], item["entry_point"]), "(not in this sweep)")
        same = swept == item["by_hand"]
        agreed += same
        table.append(
            f"| {item['plugin']} | {_cell(item['entry_point'])} | {swept} | {item['by_hand']} "
            f"| {'yes' if same else '**no**'} | {_cell(item['why'], 600)} |"
        )
    return [
        "",
        "## A hand-checked sample",
        "",
        _cell(sample.get("about", ""), 2000),
        "",
        f"Agreement: {agreed} of {len(table)} rows.",
        "",
        "| plugin | entry point | this sweep | by hand | agree | what the plugin's code and Dify's code say |",
        "|---|---|---|---|---|---|",
        *table,
    ]


def note_run(arguments: argparse.Namespace, started: float) -> None:
    finished = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    facts = {"seconds": time.monotonic() - started, "jobs": arguments.jobs, "finished": finished}
    described = getattr(arguments, "described", None) or _git(ROOT, "describe", "--always", "--dirty")
    arguments.described = described
    (arguments.raw / "sweep.json").write_text(json.dumps({**facts, "dify_mock": described}))


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
    parser.add_argument("--note", action="append", default=[], help="a line to add to the page's header")
    parser.add_argument(
        "--rerun", action="append", default=[], metavar="CATEGORY/NAME", help="with --from-raw: check this one again"
    )
    arguments = parser.parse_args(argv)
    if not (arguments.checkout / "tools").is_dir():
        parser.error(f"{arguments.checkout} is not a dify-official-plugins checkout (no tools/ folder)")
    arguments.checkout_label = str(arguments.checkout)
    arguments.checkout = arguments.checkout.resolve()
    arguments.logs = arguments.raw / "logs"
    arguments.raw.mkdir(parents=True, exist_ok=True)
    folders = interleaved(plugin_folders(arguments.checkout, arguments.only))
    if arguments.limit:
        folders = folders[: arguments.limit]
    started = time.monotonic()
    rows: list[Row] = []

    missing = missing_files(arguments.checkout)

    def one(item: tuple[str, Path]) -> Row | None:
        category, folder = item
        saved = arguments.raw / f"{category}--{folder.name}.json"
        fresh = not arguments.from_raw or f"{category}/{folder.name}" in arguments.rerun
        if not fresh and not saved.is_file():
            return None  # a sweep stopped before it reached this one
        report = check(folder, arguments) if fresh else json.loads(saved.read_text())
        outcome, detail = classify(report)
        lacking = [path for path in missing if path.startswith(f"{category}/{folder.name}/")]
        if lacking and outcome not in (VERIFIED, PARTLY):
            outcome, detail = INCOMPLETE, f"the checkout lacks {', '.join(lacking)}; {detail}"
        (arguments.raw / f"{category}--{folder.name}.json").write_text(json.dumps(report, indent=1))
        print(f"{len(rows) + 1:>4}/{len(folders)} {category}/{folder.name}: {outcome} {detail[:120]}", flush=True)
        row = Row(folder, category, report, outcome, detail)
        rows.append(row)
        if not arguments.from_raw:
            note_run(arguments, started)  # after each plugin: a sweep stopped early still says what ran
        return row

    with ThreadPoolExecutor(arguments.jobs) as pool:
        done = [row for row in pool.map(one, folders) if row is not None]
    ordered = sorted(done, key=lambda row: (CATEGORIES.index(row.category), row.folder.name))
    arguments.unchecked = len(folders) - len(ordered)
    if not arguments.from_raw:
        note_run(arguments, started)
    arguments.run = json.loads((arguments.raw / "sweep.json").read_text())
    arguments.out.write_text(markdown(ordered, arguments))
    print(f"wrote {arguments.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
