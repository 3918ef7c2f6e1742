"""Preparing a .difypkg: what is refused, and where the environment ends up."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from dify_mock.plugins.packages import PackageError, prepare_package

MANIFEST = "version: 0.0.1\nmeta:\n  runner:\n    language: python\n    version: '3.12'\n    entrypoint: main\n"


def package(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def test_an_entry_that_leaves_the_package_is_refused(tmp_path):
    bad = package(tmp_path / "evil.difypkg", {"manifest.yaml": MANIFEST, "../outside.py": "x = 1"})
    with pytest.raises(PackageError, match="points outside the package"):
        prepare_package(bad, tmp_path / "data", None, print)
    assert not (tmp_path / "outside.py").exists()


def test_a_zip_without_a_manifest_at_its_root_is_refused(tmp_path):
    nested = package(tmp_path / "nested.difypkg", {"plugin/manifest.yaml": MANIFEST})
    with pytest.raises(PackageError, match=r"has no manifest\.yaml at its root"):
        prepare_package(nested, tmp_path / "data", None, print)


def test_the_environment_is_absolute_and_reused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plain = package(tmp_path / "plain.difypkg", {"manifest.yaml": MANIFEST, "main.py": ""})
    said: list[str] = []
    first = prepare_package(plain, Path("relative-data"), None, said.append)
    assert Path(first.python).is_absolute() and Path(first.python).exists()
    again = prepare_package(plain, Path("relative-data"), None, said.append)
    assert again == first
    assert any(line.startswith("using the cached environment") for line in said)
