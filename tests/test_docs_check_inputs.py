"""docs/check-inputs.md: its two runs of `dify-mock check`, repeated, print what the page shows (times aside)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

from conftest import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "check-inputs.md"
TIMES = re.compile(r"\d+(\.\d+)? s\b")


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)\n```", PAGE.read_text(encoding="utf-8"), re.DOTALL)


def test_the_runs_on_the_page_print_what_it_shows(sdk_python: str, tmp_path: Path) -> None:
    (inputs,) = blocks("yaml")
    (tmp_path / "inputs.yaml").write_text(inputs)
    runs = blocks("console")
    assert len(runs) == 2
    for run in runs:
        command, shown = run.split("\n", 1)
        args = shlex.split(command.removeprefix("$ dify-mock "))
        args = [
            sdk_python if arg == ".venv-sdk/bin/python" else str(tmp_path / arg) if arg == "inputs.yaml" else arg
            for arg in args
        ]
        result = subprocess.run(
            [sys.executable, "-m", "dify_mock", *args], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert TIMES.sub("N s", result.stdout.rstrip()) == TIMES.sub("N s", shown.rstrip())
