"""Plugin environments: made as the daemon makes them, and reused while the dependency files stay the same."""

from __future__ import annotations

import subprocess
from pathlib import Path

from dify_mock.plugins.environments import dependency_files, environment_key, prepare_environment


def plugin(tmp_path: Path, runner_version: str) -> Path:
    folder = tmp_path / "plugin"
    folder.mkdir()
    (folder / "manifest.yaml").write_text(f'meta:\n  runner:\n    language: python\n    version: "{runner_version}"\n')
    (folder / "requirements.txt").write_text("")
    return folder


def test_python_3_12_whatever_the_manifest_asks_and_the_environment_is_reused(tmp_path: Path) -> None:
    folder = plugin(tmp_path, "3.10")  # the daemon runs `uv venv --python 3.12` regardless
    said: list[str] = []
    python = prepare_environment(folder, tmp_path / "venvs", None, said.append)
    version = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    assert version.stdout.strip() == "(3, 12)"
    assert prepare_environment(folder, tmp_path / "venvs", None, said.append) == python
    assert said[-1].startswith("using the cached environment") and said[-1].endswith("(same requirements.txt files)")


def test_the_daemons_order_of_dependency_files_and_a_key_that_follows_them(tmp_path: Path) -> None:
    folder = plugin(tmp_path, "3.12")
    assert [path.name for path in dependency_files(folder)] == ["requirements.txt"]
    before = environment_key(dependency_files(folder), "3.12")
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "p"\nversion = "0"\ndependencies = ["dify_plugin>=0.9"]\n'
    )
    assert [path.name for path in dependency_files(folder)] == ["pyproject.toml"]
    (folder / "uv.lock").write_text("version = 1\n")
    assert [path.name for path in dependency_files(folder)] == ["pyproject.toml", "uv.lock"]
    after = environment_key(dependency_files(folder), "3.12")
    assert after != before
    (folder / "uv.lock").write_text("version = 1\n# changed\n")
    assert environment_key(dependency_files(folder), "3.12") != after
