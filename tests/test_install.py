"""docs/install.md, followed to the letter: a wheel built from this checkout, added with uv to a plugin project laid
out as the official ones are (pyproject.toml + uv.lock), and a pytest there that uses the dify_mock fixture. The
project is our own tests/plugins/model_caller given a pyproject.toml and a uv.lock (always), and a copy of the official
tools/regex (when a dify-official-plugins checkout is there). The package index is reached by uv for the plugin's own
dependencies; the mock and the plugin talk over loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
OFFICIAL = Path(os.environ.get("DIFY_MOCK_OFFICIAL_PLUGINS", "/work/dify-official-plugins"))
REGEX = OFFICIAL / "tools" / "regex"

OWN = REPO_ROOT / "tests" / "plugins" / "model_caller"
OWN_PYPROJECT = """[project]
name = "model-caller"
version = "0.0.1"
requires-python = ">=3.12"
dependencies = ["dify-plugin>=0.10,<0.11"]

[tool.uv]
package = false
"""
OWN_TEST = """
def test_moderation(dify_mock):
    dify_mock.add_rules({"moderation": [{"match": {"text": {"contains": "secret"}}, "reply": {"flagged": True}}]})
    plugin = dify_mock.start_plugin(".", timeout=180)
    messages = plugin.invoke_tool("model_caller", "moderation", {"text": "a secret"})
    assert messages[0]["message"]["json_object"] == {"flagged": True}
    dify_mock.assert_all_rules_used()
"""
REGEX_TEST = """
def test_extracts_numbers(dify_mock):
    plugin = dify_mock.start_plugin(".", timeout=180)
    messages = plugin.invoke_tool("regex", "regex_extract", {"content": "a1b22", "expression": r"\\d+"})
    assert messages[0]["message"]["text"] == "['1', '22']"
    assert dify_mock.invocations()[-1]["type"] == "invoke_tool"
"""


def uv() -> str:
    beside = Path(sys.executable).parent / "uv"  # uv is one of dify-mock's own dependencies
    found = str(beside) if beside.exists() else shutil.which("uv")
    assert found, "uv is not installed"
    return found


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DIFY_MOCK_", "VIRTUAL_ENV", "PYTEST_", "UV_PROJECT"))
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, (
        f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )
    return done


def own_project(target: Path) -> Path:
    shutil.copytree(OWN, target, ignore=shutil.ignore_patterns(".venv", "__pycache__", "requirements.txt"))
    (target / "pyproject.toml").write_text(OWN_PYPROJECT, encoding="utf-8")
    run([uv(), "lock", "-q", "--python", sys.executable], target)
    return target


def official_regex(target: Path) -> Path:
    if not (REGEX / "uv.lock").is_file():
        pytest.skip(f"no official plugins checkout at {OFFICIAL}")
    shutil.copytree(REGEX, target, ignore=shutil.ignore_patterns(".venv", "__pycache__"))
    return target


@pytest.mark.parametrize(
    ("make_project", "plugin_test"),
    [(own_project, OWN_TEST), (official_regex, REGEX_TEST)],
    ids=["ours", "official-regex"],
)
def test_a_plugin_project_tests_itself_with_the_wheel_added_by_uv(make_project, plugin_test, tmp_path):
    run(
        [
            uv(),
            "build",
            "-q",
            "--wheel",
            "--out-dir",
            str(tmp_path / "dist"),
            "--python",
            sys.executable,
            str(REPO_ROOT),
        ],
        REPO_ROOT,
    )
    wheel = next((tmp_path / "dist").glob("dify_mock-*.whl"))
    project = make_project(tmp_path / "project")
    (project / "tests").mkdir()
    (project / "tests" / "test_plugin.py").write_text(plugin_test, encoding="utf-8")

    run([uv(), "add", "-q", "--dev", "--python", sys.executable, str(wheel), "pytest"], project)
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert "dify-mock" in pyproject and "[tool.uv.sources]" in pyproject
    done = run([uv(), "run", "--python", sys.executable, "pytest", "-q", "-p", "no:cacheprovider"], project)
    assert "1 passed" in done.stdout, done.stdout

    # What Dify's daemon installs (`uv sync --no-dev`) leaves the mock out.
    run([uv(), "sync", "-q", "--no-dev", "--python", sys.executable], project)
    listed = run([uv(), "pip", "list", "--python", str(project / ".venv" / "bin" / "python")], project).stdout
    assert "dify-plugin" in listed and "dify-mock" not in listed and "pytest" not in listed
