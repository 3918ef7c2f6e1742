"""`dify-mock check` on a hostile package or folder: it reads only what it was given, within a size budget, before it
parses anything, and every bad input gets one clear line (no traceback), leaving nothing in its cache.

Each input is made on the fly in tmp_path (the largest is a 1 MB zip that would unpack to 1,000 MiB, and a
101 MiB manifest) and removed with it. `dify-mock check` runs as a subprocess with its own cache folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
MIB = 1024 * 1024


def check(target: Path, cache: Path) -> tuple[int, dict[str, Any], str]:
    """Exit status, the JSON report and stderr of `dify-mock check TARGET --json`."""
    env = dict(os.environ, DIFY_MOCK_CACHE_DIR=str(cache))
    result = subprocess.run(
        [sys.executable, "-m", "dify_mock", "check", str(target), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    reports = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(reports) == 1, f"no report: stdout {result.stdout[-2000:]!r} stderr {result.stderr[-2000:]!r}"
    return result.returncode, reports[0], result.stderr


def refusal(report: dict[str, Any], check_name: str) -> str:
    failed = [finding for finding in report["findings"] if finding["status"] == "fail"]
    assert failed, report["findings"]
    assert failed[0]["check"] == check_name, failed
    message = str(failed[0]["message"])
    assert "\n" not in message and "Traceback" not in message, message
    return message


def leftovers(cache: Path) -> list[str]:
    packages = cache / "packages"
    return sorted(str(path.relative_to(cache)) for path in packages.rglob("*")) if packages.exists() else []


def plugin_copy(tmp_path: Path, name: str = "web_search") -> Path:
    folder = tmp_path / name
    shutil.copytree(PLUGINS / name, folder, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    return folder


def zipped(folder: Path, package: Path, extra: list[tuple[zipfile.ZipInfo | str, bytes]] = ()) -> Path:  # type: ignore[assignment]
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
        for entry, data in extra:
            archive.writestr(entry, data)
    return package


class RepeatedZeros:
    """A deflate stream of zeros made once and repeated: each MiB compressed alone and ended with a full flush
    (byte-aligned, dictionary reset), so that copies join into one valid stream. Compressing 1,000 MiB for real
    takes a minute; this takes a second, and the zip is the same honest 1,000 MiB."""

    BLOCK = bytes(MIB)
    _first = zlib.compressobj(9, zlib.DEFLATED, -15)
    CHUNK = _first.compress(BLOCK) + _first.flush(zlib.Z_FULL_FLUSH)
    END = zlib.compressobj(9, zlib.DEFLATED, -15).flush()

    def compress(self, data: bytes) -> bytes:
        assert data == self.BLOCK
        return self.CHUNK

    def flush(self) -> bytes:
        return self.END


def test_a_file_entry_then_a_folder_entry_of_the_same_name_is_one_line(tmp_path: Path) -> None:
    folder = plugin_copy(tmp_path)
    package = zipped(folder, tmp_path / "clash.difypkg", [("notes", b"a file"), (zipfile.ZipInfo("notes/"), b"")])
    status, report, stderr = check(package, tmp_path / "cache")
    assert status == 1 and "Traceback" not in stderr, stderr
    assert "the entry 'notes/' is a folder and a file of the same name" in refusal(report, "package")
    assert leftovers(tmp_path / "cache") == []


def test_an_honest_1000_mib_inside_a_1_mb_zip_is_refused_before_unpacking_and_leaves_nothing(tmp_path: Path) -> None:
    folder = plugin_copy(tmp_path)
    package = tmp_path / "bomb.difypkg"
    zipped(folder, package)
    with (
        zipfile.ZipFile(package, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("zeros.bin", "w", force_zip64=True) as entry,
    ):
        entry._compressor = RepeatedZeros()  # type: ignore[attr-defined]  # zipfile still counts sizes and CRC
        for _ in range(1000):
            entry.write(RepeatedZeros.BLOCK)
    assert package.stat().st_size < 2 * MIB
    status, report, stderr = check(package, tmp_path / "cache")
    assert status == 1 and "Traceback" not in stderr, stderr
    message = refusal(report, "package")
    assert "please ensure the uncompressed size is less than 52428800 bytes" in message  # the daemon's words
    assert leftovers(tmp_path / "cache") == []


def test_a_refused_package_leaves_nothing_in_the_cache(tmp_path: Path) -> None:
    folder = plugin_copy(tmp_path)
    (folder / "manifest.yaml").write_text("version: [1.0\n")
    status, report, _ = check(zipped(folder, tmp_path / "bad.difypkg"), tmp_path / "cache")
    assert status == 1 and refusal(report, "manifest").startswith("not valid YAML")
    assert leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize("shape", ["many keys", "one scalar"])
def test_a_101_mib_manifest_is_refused_by_its_size_before_it_is_parsed(tmp_path: Path, shape: str) -> None:
    folder = plugin_copy(tmp_path)
    with open(folder / "manifest.yaml", "w") as manifest:
        if shape == "many keys":  # 8.8 million keys (a block of 87,381 distinct ones, 101 times)
            block = "".join(f"k{index:08d}: v\n" for index in range(87_381))
            for _ in range(101):
                manifest.write(block)
        else:
            manifest.write("description: ")
            block = "x" * MIB
            for _ in range(101):
                manifest.write(block)
    assert (folder / "manifest.yaml").stat().st_size > 100 * MIB
    status, report, stderr = check(folder, tmp_path / "cache")
    assert status == 1 and "Traceback" not in stderr, stderr
    assert "over the 4 MiB a plugin's YAML file may have; not parsed" in refusal(report, "manifest")


def test_yaml_aliases_that_expand_without_end_are_refused_as_such(tmp_path: Path) -> None:
    folder = plugin_copy(tmp_path)
    laughs = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    laughs += [f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]" for level in range(1, 10)]
    manifest = (folder / "manifest.yaml").read_text()
    (folder / "manifest.yaml").write_text(manifest + "laughs:\n" + "".join(f"  {line}\n" for line in laughs))
    status, report, stderr = check(folder, tmp_path / "cache")
    assert status == 1 and "Traceback" not in stderr, stderr
    assert "billion laughs" in refusal(report, "manifest")


def test_a_declaration_path_outside_the_plugin_folder_is_refused(tmp_path: Path) -> None:
    folder = plugin_copy(tmp_path)
    shutil.copy(folder / "tools" / "search.yaml", tmp_path / "outside.yaml")
    provider = folder / "provider" / "web_search.yaml"
    provider.write_text(provider.read_text().replace("- tools/search.yaml", "- ../outside.yaml"))
    status, report, stderr = check(folder, tmp_path / "cache")
    assert status == 1 and "Traceback" not in stderr, stderr
    assert "../outside.yaml: the path points outside the plugin folder" in refusal(report, "declarations")


def test_a_symlink_to_a_file_outside_the_plugin_folder_is_not_followed(tmp_path: Path) -> None:
    folder = plugin_copy(tmp_path)
    shutil.move(folder / "tools" / "search.yaml", tmp_path / "outside.yaml")
    (folder / "tools" / "search.yaml").symlink_to(tmp_path / "outside.yaml")
    status, report, stderr = check(folder, tmp_path / "cache")
    assert status == 1 and "Traceback" not in stderr, stderr
    assert "tools/search.yaml: the path points outside the plugin folder" in refusal(report, "declarations")


def test_a_model_glob_that_climbs_to_the_root_is_one_line(tmp_path: Path) -> None:
    folder = plugin_copy(tmp_path, "model_provider")
    provider = folder / "provider" / "fake.yaml"
    provider.write_text(provider.read_text().replace("- models/llm/*.yaml", "- " + "../" * 30 + "*"))
    status, report, stderr = check(folder, tmp_path / "cache")
    assert status == 1 and "Traceback" not in stderr, stderr
    assert "points outside the plugin folder" in refusal(report, "declarations")
