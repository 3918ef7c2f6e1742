"""Paths that try to leave their folder: files a fixture rule names, and cassette names.

`audio_file` (a tts reply) is the only fixture key that names a file. It must stay inside the fixture folder given
with --fixtures (or, for rules added over HTTP, the mock's working folder or a fixture folder), symbolic links
followed. A run's cassette name (--cassette, `cassettes.name`) must be a plain file name; a test's cassette name
(PUT /mock/cassette) is turned into one. Where a recorded per-test cassette lands is checked in
tests/test_cassettes_kill.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dify_mock.testing import MockServer

REPO_ROOT = Path(__file__).resolve().parents[2]
MP3 = REPO_ROOT / "fixtures" / "audio" / "hello.mp3"


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    """`dify-mock serve` expected to refuse its arguments and exit at once."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("DIFY_MOCK_")}
    command = [sys.executable, "-m", "dify_mock", "serve", "--port", "0", "--debug-port", "0", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=clean)


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """tmp/fixtures (the folder given), tmp/fixtures/audio/hello.mp3 inside it, tmp/outside/secret.mp3 outside."""
    (tmp_path / "fixtures" / "audio").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    shutil.copy(MP3, tmp_path / "fixtures" / "audio" / "hello.mp3")
    shutil.copy(MP3, tmp_path / "outside" / "secret.mp3")  # a real MP3: served to the plugin if it were let in
    (tmp_path / "fixtures" / "audio" / "link.mp3").symlink_to(tmp_path / "outside" / "secret.mp3")
    return tmp_path


def test_a_fixture_naming_a_file_outside_its_folder_is_refused_at_start_naming_each_path(layout):
    outside = layout / "outside" / "secret.mp3"
    rules = {
        "tts": [
            {"name": "climbs", "reply": {"audio_file": "../../outside/secret.mp3"}},
            {"name": "absolute", "reply": {"audio_file": str(outside)}},
            {"name": "linked", "reply": {"audio_file": "../audio/link.mp3"}},
            {"name": "missing-outside", "reply": {"audio_file": "../../outside/none.mp3"}},
        ]
    }
    fixture = layout / "fixtures" / "voices" / "rules.yaml"
    fixture.parent.mkdir()
    fixture.write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")

    refused = serve("--fixtures", str(layout / "fixtures"), "--data-dir", str(layout / "data"))
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.startswith(f"dify-mock: {fixture}:")
    folder = layout / "fixtures"
    for index, given, resolved in [
        (0, "../../outside/secret.mp3", outside),
        (1, str(outside), outside),
        (2, "../audio/link.mp3", outside),  # a symbolic link is followed to where it points
        (3, "../../outside/none.mp3", layout / "outside" / "none.mp3"),  # outside, whether or not it exists
    ]:
        expected = f"tts[{index}].reply.audio_file: {given} ({resolved}) is outside {folder}"
        assert expected in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (layout / "data").exists()  # refused before anything was written


def test_a_fixture_may_name_a_file_anywhere_inside_the_folder_given(layout):
    fixture = layout / "fixtures" / "voices" / "rules.yaml"
    fixture.parent.mkdir()
    fixture.write_text("tts:\n  - reply: {audio_file: ../audio/hello.mp3}\n", encoding="utf-8")
    with MockServer(layout / "mock", fixtures=[layout / "fixtures"]) as server:
        rules = server.http.get("/mock/rules").json()["rules"]
        assert [rule["type"] for rule in rules] == ["tts"]


def test_rules_added_over_http_cannot_name_files_outside_the_working_and_fixture_folders(layout, monkeypatch):
    work = layout / "work"
    work.mkdir()
    shutil.copy(MP3, work / "voice.mp3")
    monkeypatch.chdir(work)  # the server's working folder
    with MockServer(layout / "mock", fixtures=[layout / "fixtures"]) as server:

        def add(audio_file: str) -> tuple[int, dict]:
            response = server.http.post("/mock/rules", json={"tts": [{"reply": {"audio_file": audio_file}}]})
            return response.status_code, response.json()

        for given in ["../outside/secret.mp3", str(layout / "outside" / "secret.mp3"), "/etc/hostname"]:
            status, body = add(given)
            assert status == 400, (given, body)
            assert f"api: tts[0].reply.audio_file: {given} (" in body["error"] and "is outside" in body["error"]
        assert add("voice.mp3")[0] == 201  # in the working folder
        assert add(str(layout / "fixtures" / "audio" / "hello.mp3"))[0] == 201  # in a fixture folder
        assert "Traceback" not in server.log()


@pytest.mark.parametrize("name", ["../escape", "/tmp/escape", ".hidden"])
def test_a_run_cassette_name_that_is_not_a_file_name_is_refused_at_start(tmp_path, name):
    on_command_line = serve("--cassette", name, "--record", str(tmp_path / "cassettes"), "--data-dir", str(tmp_path))
    assert on_command_line.returncode == 2
    assert f"--cassette: cassette name {name!r} is not a file name" in on_command_line.stderr
    if name != "../escape":
        return
    config = tmp_path / "dify-mock.yaml"
    config.write_text(yaml.safe_dump({"cassettes": {"name": name}}), encoding="utf-8")
    in_config = serve("--config", str(config), "--record", str(tmp_path / "cassettes"), "--data-dir", str(tmp_path))
    assert in_config.returncode == 2
    assert f"{config}: cassettes.name: cassette name {name!r} is not a file name" in in_config.stderr
    assert not (tmp_path / "cassettes").exists()


def test_a_test_cassette_name_becomes_one_file_name_inside_the_folder(tmp_path):
    with MockServer(tmp_path / "mock", extra_args=["--record", str(tmp_path / "cassettes")]) as server:
        for name, file_name in [
            ("../../escape", "escape"),
            ("/etc/passwd", "etc_passwd"),
            ("..\\..\\windows", "windows"),
            ("tests/test_a.py::test_b[../../c]", "tests_test_a.py_test_b_.._.._c"),
        ]:
            response = server.http.put("/mock/cassette", json={"name": name})
            assert response.json() == {"cassette": file_name}
            assert "/" not in file_name and not file_name.startswith(".")
        for name in ["../..", "/", "..", ""]:
            response = server.http.put("/mock/cassette", json={"name": name})
            assert response.status_code == 400
            assert response.json() == {"error": f"{name!r} does not make a cassette name"}
