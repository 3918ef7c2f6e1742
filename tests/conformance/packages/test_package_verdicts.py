"""`dify-mock check` against the real CLI and daemon on the broken-plugin corpus (`corpus.py`).

`verdicts.json` holds what `dify plugin package` + the daemon's upload and install did with each case (`record.py`
wrote it). The first test holds `check` to those verdicts, with no daemon: check refuses (does not start the plugin)
exactly when the CLI or the daemon refuses, and where only the CLI refuses, it says that the daemon alone would
install the plugin. The second re-derives the verdicts from the real CLI and daemon when DIFY_DAEMON_CTL is set,
so that CI notices when the recorded verdicts stop being true.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from corpus import CASES, VERDICTS, make
from dify_mock.check.findings import PluginReport, Status
from dify_mock.check.runner import CheckOptions, check_plugin

RECORDED: dict[str, dict[str, Any]] = json.loads(VERDICTS.read_text())
DAEMON_ALONE = "the daemon alone would install it"


def check_verdict(report: PluginReport) -> str:
    """What Dify would do with the plugin by check's account: installed means it registered."""
    return "accept" if report.registered else "refuse"


def failures(report: PluginReport) -> list[str]:
    return [f"{finding.check}: {finding.message}" for finding in report.findings if finding.status is Status.FAIL]


def test_the_corpus_has_every_kind_of_case() -> None:
    assert sorted(RECORDED) == sorted(CASES), "run record.py after changing corpus.py"
    assert len(CASES) >= 25
    overall = [case["overall"] for case in RECORDED.values()]
    assert overall.count("accept") >= 5 and overall.count("refuse") >= 20
    assert any(case["cli"] == "refuse" and case["daemon"] == "accept" for case in RECORDED.values())
    assert any(case["cli"] == "accept" and case["daemon"] == "refuse" for case in RECORDED.values())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("corpus")


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_agrees_with_the_cli_and_the_daemon(name: str, corpus: Path, sdk_python: str) -> None:
    expected = RECORDED[name]
    folder = make(name, corpus)
    options = CheckOptions(python=sdk_python, cache_dir=corpus / "cache", start_timeout=120, invoke=False)
    report = check_plugin(folder, options)
    said = failures(report)
    assert check_verdict(report) == expected["overall"], (
        f"{name} ({expected['about']}): the CLI {expected['cli']}s ({expected['cli_says']!r}), the daemon "
        f"{expected['daemon']}s ({expected['daemon_says']!r}); check says {said}"
    )
    if expected["cli"] == "refuse" and expected["daemon"] == "accept":
        assert any(DAEMON_ALONE in line for line in said), said
    elif expected["overall"] == "refuse":
        assert not any(DAEMON_ALONE in line for line in said), said


def rederived() -> list[str]:
    """The cases re-derived from the real tools. Each one the daemon installs costs it an environment (about a
    minute), so `make test` re-derives every case the daemon's upload refuses and one case of each other verdict;
    DIFY_CONFORMANCE_CORPUS=all (what `make conformance` sets) re-derives all 49."""
    if os.environ.get("DIFY_CONFORMANCE_CORPUS") == "all":
        return sorted(CASES)
    refused_at_upload = [name for name in CASES if RECORDED[name]["daemon_says"].startswith("upload:")]
    one_of_each: dict[tuple[str, str], str] = {}
    for name in sorted(CASES):
        one_of_each.setdefault((RECORDED[name]["cli"], RECORDED[name]["daemon"]), name)
    return sorted({*refused_at_upload, *one_of_each.values()})


@pytest.mark.skipif(not os.environ.get("DIFY_DAEMON_CTL"), reason="needs the real daemon (DIFY_DAEMON_CTL)")
def test_the_recorded_verdicts_are_still_what_the_cli_and_the_daemon_do(tmp_path: Path) -> None:
    from oracle import verdict

    ctl = os.environ["DIFY_DAEMON_CTL"]
    # PostgreSQL runs as its own user, so the state folder is not under pytest's private tmp_path
    state = Path(tempfile.mkdtemp(prefix="dify-mock-corpus-", dir="/var/tmp"))
    state.chmod(0o755)
    up = subprocess.run(
        [ctl, "up", "--inner-api-url", "http://127.0.0.1:9", "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert up.returncode == 0, up.stderr[-2000:]
    try:
        differ = {}
        for name in sorted(rederived()):
            found = verdict(ctl, make(name, tmp_path / "cases"), state, tmp_path / "packages")
            recorded = RECORDED[name]
            if (found.cli, found.daemon) != (recorded["cli"], recorded["daemon"]):
                differ[name] = {"now": found.to_json(), "recorded": recorded}
        assert not differ, json.dumps(differ, indent=2)
    finally:
        subprocess.run([ctl, "down", "--state", str(state)], capture_output=True, timeout=120, check=False)
        shutil.rmtree(state, ignore_errors=True)
