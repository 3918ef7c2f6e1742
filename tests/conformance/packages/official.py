"""`make conformance-official OFFICIAL=<checkout of langgenius/dify-official-plugins>`: every official plugin through
the real CLI and daemon, and through `dify-mock check`, and how far their verdicts agree.

    DIFY_DAEMON_CTL=../shared/tools/daemon/daemonctl .venv/bin/python tests/conformance/packages/official.py \
        OFFICIAL --state /var/tmp/$USER/daemon --out results.jsonl [--start] [--jobs 2] [--until 22:15]

Files, for every plugin (fast): `dify plugin package` + the daemon's upload (which decodes and validates the
package but makes no environment) against check's file findings (`check/static.py`).
Start-up, with --start, for as many plugins as time allows (`--until HH:MM` UTC, then the rest is "not run"):
the daemon's install (its uv environment, then the plugin launched until it is ready) against check's own start
(its environment, then the plugin run until it registers; no entry point invoked).
Each result is one JSON line in --out (start-up: in --out's .start.jsonl); a run appends and skips what is there.
`agreement_page.py` turns them into the package section of docs/conformance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from dify_mock.check.findings import PluginReport, Status
from dify_mock.check.runner import CheckOptions, check_plugin
from dify_mock.check.static import check_files
from oracle import UV, _call, _message, uninstall, upload

INSTALL_SECONDS = 900
# check's findings about what the CLI and the daemon's upload look at; the others (Python sources, dependencies)
# are about start-up, which the daemon's install and check's start compare
UPLOAD_CHECKS = {"manifest", "declarations", "icons", "size", "cli", "files"}


def plugins(checkout: Path) -> list[Path]:
    return sorted(path.parent for path in checkout.glob("*/*/manifest.yaml"))


def files_verdict(ctl: str, folder: Path, state: Path, work: Path) -> dict[str, Any]:
    """CLI + daemon upload vs check's file findings."""
    package = work / f"{folder.parent.name}-{folder.name}.difypkg"
    env = dict(os.environ, UV_PATH=os.environ.get("UV_PATH", UV))
    made = subprocess.run([ctl, "package", str(folder), str(package)], capture_output=True, text=True, env=env)
    result: dict[str, Any] = {"plugin": f"{folder.parent.name}/{folder.name}"}
    if made.returncode != 0 or not package.is_file():
        result.update(cli="refuse", cli_says=_last_error(made.stdout + made.stderr), upload="not run")
    else:
        result["cli"] = "accept"
        ok, says, identifier = upload(state, package)
        result.update(upload="accept" if ok else "refuse", upload_says=says[:400], identifier=identifier)
    package.unlink(missing_ok=True)
    report = PluginReport(path=str(folder))
    check_files(folder, report)
    failed = [
        f"{finding.check}: {finding.message}"
        for finding in report.findings
        if finding.status is Status.FAIL and finding.check in UPLOAD_CHECKS
    ]
    result.update(check_files="refuse" if failed else "accept", check_says=failed[:3])
    return result


def start_verdict(ctl: str, state: Path, folder: Path, work: Path, cache: Path) -> dict[str, Any]:
    """The daemon's install (environment + launch) vs check's environment + start, for a plugin both took. It is
    packaged and uploaded again first: the daemon forgets an upload once its plugin was installed and removed."""
    client = json.loads((state / "client.json").read_text())
    base = f"{client['url']}/plugin/{client['tenant']}/management"
    package = work / f"{folder.parent.name}-{folder.name}.start.difypkg"
    env = dict(os.environ, UV_PATH=os.environ.get("UV_PATH", UV))
    subprocess.run([ctl, "package", str(folder), str(package)], capture_output=True, env=env, check=True)
    uploaded, says, identifier = upload(state, package)
    package.unlink(missing_ok=True)
    if not uploaded:
        raise RuntimeError(f"{folder}: the upload that took it before refuses it now: {says}")
    started = time.monotonic()
    request = {"plugin_unique_identifiers": [identifier], "source": "package", "metas": [{}]}
    answer = _call(f"{base}/install/identifiers", client["key"], json.dumps(request).encode())
    daemon, says = "accept", ""
    if answer.get("code") != 0:
        daemon, says = "refuse", _message(answer)
    elif not (answer.get("data") or {}).get("all_installed"):
        task_id = answer["data"]["task_id"]
        while True:
            task = _call(f"{base}/install/tasks/{task_id}", client["key"]).get("data") or {}
            if task.get("status") == "success":
                break
            if task.get("status") == "failed" or time.monotonic() - started > INSTALL_SECONDS:
                plugins_ = task.get("plugins") or [{}]
                daemon, says = "refuse", str(plugins_[0].get("message") or "not installed in time")
                break
            time.sleep(2)
    if daemon == "accept":
        uninstall(client, base, identifier)
    daemon_seconds = time.monotonic() - started
    started = time.monotonic()
    options = CheckOptions(cache_dir=cache, start_timeout=300, invoke=False)
    report = check_plugin(folder, options)
    failed = [f"{finding.check}: {finding.message}" for finding in report.findings if finding.status is Status.FAIL]
    return {
        "install": daemon,
        "install_says": says[:600],
        "install_seconds": round(daemon_seconds),
        "check_start": "accept" if report.registered else "refuse",
        "check_start_says": [line[:400] for line in failed[:3]],
        "check_seconds": round(time.monotonic() - started),
    }


def _last_error(output: str) -> str:
    lines = [line for line in output.splitlines() if "ERROR" in line] or output.strip().splitlines() or [""]
    return lines[-1][:400]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("official", type=Path)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--start", action="store_true", help="also install (environment + launch) and start")
    parser.add_argument("--start-only", action="store_true", help="only the start-up of what --out already has")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--until", help="HH:MM UTC: start no install after it")
    parser.add_argument("--from-end", action="store_true", help="start-up from the last plugin back (a 2nd runner)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "dify-mock-official-cache")
    arguments = parser.parse_args()
    ctl = os.environ["DIFY_DAEMON_CTL"]
    done = {}
    if arguments.out.is_file():
        for line in arguments.out.read_text().splitlines():
            row = json.loads(line)
            done[row["plugin"]] = row
    work = Path(tempfile.mkdtemp(prefix="official-"))
    folders = plugins(arguments.official)
    with open(arguments.out, "a") as out:
        for folder in [] if arguments.start_only else folders:
            name = f"{folder.parent.name}/{folder.name}"
            if name in done:
                continue
            row = files_verdict(ctl, folder, arguments.state, work)
            done[name] = row
            out.write(json.dumps(row) + "\n")
            out.flush()
            print(f"files {name}: cli {row['cli']} upload {row['upload']} check {row['check_files']}", flush=True)
    if not (arguments.start or arguments.start_only):
        return
    deadline = _deadline(arguments.until)
    todo = [row for row in done.values() if row.get("upload") == "accept" and "install" not in row]
    started_path = arguments.out.with_suffix(".start.jsonl")

    def one(row: dict[str, Any]) -> None:
        if time.time() > deadline:
            return
        row = row | start_verdict(ctl, arguments.state, arguments.official / row["plugin"], work, arguments.cache)
        with open(started_path, "a") as out:
            out.write(json.dumps(row) + "\n")
        print(
            f"start {row['plugin']}: install {row['install']} ({row['install_seconds']} s), check "
            f"{row['check_start']} ({row['check_seconds']} s)",
            flush=True,
        )

    already = (
        {json.loads(line)["plugin"] for line in started_path.read_text().splitlines()}
        if started_path.is_file()
        else set()
    )
    todo = [row for row in todo if row["plugin"] not in already]
    with ThreadPoolExecutor(arguments.jobs) as pool:
        list(pool.map(one, todo[::-1] if arguments.from_end else todo))


def _deadline(until: str | None) -> float:
    if not until:
        return float("inf")
    now = datetime.now(UTC)
    hour, minute = map(int, until.split(":"))
    return now.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()


if __name__ == "__main__":
    main()
