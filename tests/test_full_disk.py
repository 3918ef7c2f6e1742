"""A full disk under the data folder: every writer fails with a clear error, nothing acknowledged is lost, and the
mock goes on serving and writes again once there is room.

The disk is filled for real where a tmpfs can be mounted (root), with ENOSPC; everywhere, the server is also given a
file size limit (RLIMIT_FSIZE, set on the running process with prlimit), so writes past it fail with EFBIG. Both
variants run the same checks: the writes that fail are large ones (over the limit), the small ones are reads.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import resource
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TEST_PLUGINS
from dify_mock.testing import MockServer, PluginError
from model_caller_calls import result
from openai_standin import StandIn
from recording import KEY, KEY_ENV, cassette_entries, standin_config

LIMIT = 512 * 1024  # the file size limit variant: no file may grow past this
TMPFS_SIZE = "24m"
BIG = 600_000  # over LIMIT, under the platform_caller plugin's storage quota (1 MiB)
FULL = "is full"


class SmallDisk:
    """A folder whose disk can be filled and freed while a server writes to it."""

    def __init__(self, folder: Path, method: str) -> None:
        self.folder = folder
        self.method = method
        self.filler = folder / "filler"

    def fill(self, pid: int) -> None:
        """Fills the disk, or gives the running process `pid` the file size limit."""
        if self.method == "tmpfs":
            self._fill_tmpfs()
        else:
            _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (LIMIT, hard))

    def full_from_the_start(self) -> Callable[[], None] | None:
        """Fills the disk now, or returns what gives a process about to start a file size limit it cannot start in."""
        if self.method == "tmpfs":
            self._fill_tmpfs()
            return None
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1024, hard))  # a database page is 4096 bytes

    def _fill_tmpfs(self) -> None:
        descriptor = os.open(self.filler, os.O_WRONLY | os.O_CREAT)
        try:
            for block in (b"\0" * (1 << 20), b"\0" * 4096):
                while True:
                    try:
                        os.write(descriptor, block)
                    except OSError as error:
                        if error.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(descriptor)

    def free(self, pid: int) -> None:
        if self.method == "tmpfs":
            self.filler.unlink()
        else:
            _, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))


@pytest.fixture(params=["tmpfs", "file-size-limit"])
def small_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SmallDisk]:
    folder = tmp_path / "small"
    folder.mkdir()
    if request.param == "tmpfs":
        try:
            mount = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(folder)],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except FileNotFoundError:
            pytest.skip("no mount command: the file-size-limit variant runs the same checks")
        if mount.returncode != 0:
            pytest.skip(
                f"cannot mount a tmpfs here ({mount.stderr.strip()}): the file-size-limit variant runs the same checks"
            )
    try:
        yield SmallDisk(folder, request.param)
    finally:
        if request.param == "tmpfs" and subprocess.run(["umount", str(folder)], timeout=30).returncode != 0:
            subprocess.run(["umount", "--lazy", str(folder)], timeout=30)


def storage(mock: MockServer, plugin_id: str, **parameters: str) -> Any:
    return mock.invoke_tool(plugin_id, "platform_caller", "storage", parameters)[0]["message"]["json_object"]


def upload(mock: MockServer, plugin_id: str, filename: str, content: bytes) -> Any:
    parameters = {"filename": filename, "content_base64": base64.b64encode(content).decode(), "mimetype": "text/plain"}
    return mock.invoke_tool(plugin_id, "platform_caller", "upload", parameters)[0]["message"]["json_object"]["file"]


def stored_files(files: Path) -> set[str]:
    return {path.name for path in files.iterdir()}


def integrity(database: Path) -> str:
    with sqlite3.connect(database) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def test_a_full_data_folder_fails_clearly_keeps_what_was_acknowledged_and_recovers(small_disk, tmp_path, sdk_python):
    data, cassettes = small_disk.folder / "data", small_disk.folder / "cassettes"
    cassette = cassettes / "cassette.yaml"
    standin = StandIn(api_key_env=KEY_ENV, env={KEY_ENV: KEY})
    config = standin_config(tmp_path, standin.url)
    args = ["--data-dir", str(data), "--config", str(config), "--record", str(cassettes)]  # the last --data-dir wins
    server = MockServer(tmp_path / "harness", extra_args=args, env={KEY_ENV: KEY})
    try:
        server.start()
        platform = server.start_plugin(TEST_PLUGINS / "platform_caller", python=sdk_python).plugin_id
        models = server.start_plugin(TEST_PLUGINS / "model_caller", python=sdk_python)

        # Acknowledged before the disk fills: a stored value, an uploaded file, a recorded answer, journal entries.
        storage(server, platform, op="set", key="kept", value="stored before the disk filled")
        kept_file = upload(server, platform, "kept.txt", b"uploaded before the disk filled")
        result(server, models, "embed", texts="recorded before the disk filled")
        recorded = cassette.read_bytes()
        acknowledged = [(entry["id"], entry["type"]) for entry in server.journal()]
        files_before = stored_files(data / "files")

        assert server.process is not None
        small_disk.fill(server.process.pid)

        with pytest.raises(PluginError) as refused:
            storage(server, platform, op="set", key="new", value=f"size:{BIG}")
        assert "save data failed: the data folder" in refused.value.message and FULL in refused.value.message
        assert "nothing was stored" in refused.value.message
        with pytest.raises(PluginError) as refused:
            storage(server, platform, op="set", key="kept", value=f"size:{BIG}")
        assert FULL in refused.value.message

        with pytest.raises(PluginError) as refused:
            upload(server, platform, "big.txt", b"u" * BIG)
        assert "status code: 507" in refused.value.message and "the file was not stored: the data folder" in (
            refused.value.message
        )
        assert FULL in refused.value.message
        assert stored_files(data / "files") == files_before  # no partial file left behind

        with pytest.raises(PluginError) as refused:
            result(server, models, "embed", texts="x" * BIG)
        assert "recording failed: the cassette folder" in refused.value.message and FULL in refused.value.message
        assert f"{cassette} is unchanged" in refused.value.message
        assert cassette.read_bytes() == recorded
        assert sorted(path.name for path in cassettes.iterdir()) == ["cassette.yaml"]  # no temporary file left

        # Everything that does not need room still works, for both plugins.
        assert result(server, models, "moderation", text="still served")["flagged"] is False
        assert storage(server, platform, op="get", key="kept")["value"] == "stored before the disk filled"
        server.journal()  # the journal's reads queue behind its writes: the failed batches are handled by now
        assert "finished entries are dropped until it can write again" in server.log()

        small_disk.free(server.process.pid)

        assert storage(server, platform, op="get", key="kept")["value"] == "stored before the disk filled"
        assert storage(server, platform, op="exist", key="new")["exists"] is False
        assert storage(server, platform, op="set", key="later", value=f"size:{BIG}")["stored"] == BIG
        later_file = upload(server, platform, "later.txt", b"l" * BIG)
        result(server, models, "embed", texts="recorded once there was room")
        texts = [entry["request"]["texts"] for entry in cassette_entries(cassette)]
        assert texts == [["recorded before the disk filled"], ["recorded once there was room"]]
        server.journal()
        log = server.log()
        assert log.count("finished entries are dropped until") == log.count("journal: writing again;") >= 1
        assert "Traceback" not in log
    finally:
        server.stop()
        standin.stop()
    for database in ("journal.sqlite3", "storage.sqlite3", "endpoints.sqlite3"):
        assert integrity(data / database) == "ok", database

    with MockServer(tmp_path / "restarted", extra_args=["--data-dir", str(data)]) as restarted:
        journal = {(entry["id"], entry["type"]) for entry in restarted.journal()}
        assert set(acknowledged) <= journal
        listed = {entry["id"]: entry for entry in restarted.http.get("/mock/files").json()["files"]}
        assert set(listed) == {kept_file["id"], later_file["id"]}
        download = restarted.http.get(listed[kept_file["id"]]["preview_url"].removeprefix(restarted.url))
        assert download.content == b"uploaded before the disk filled"
    with sqlite3.connect(data / "storage.sqlite3") as db:
        values = dict(db.execute("SELECT key, length(value) FROM plugin_storage").fetchall())
    assert values == {"kept": len("stored before the disk filled"), "later": BIG}


def test_a_mock_started_on_a_full_data_folder_says_so_and_exits(small_disk):
    limit = small_disk.full_from_the_start()
    clean = {name: value for name, value in os.environ.items() if not name.startswith("DIFY_MOCK_")}
    command = [sys.executable, "-m", "dify_mock", "serve", "--port", "0", "--debug-port", "0"]
    started = subprocess.run(
        [*command, "--data-dir", str(small_disk.folder / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean,
        preexec_fn=limit,
    )
    assert started.returncode == 2, started.stderr
    assert f"dify-mock: cannot start: the data folder {small_disk.folder / 'data'} is full: " in started.stderr
    assert "Traceback" not in started.stderr


def test_an_endpoint_hook_that_cannot_be_written_is_refused_and_nothing_changes(small_disk, tmp_path, sdk_python):
    data = small_disk.folder / "data"
    server = MockServer(tmp_path / "harness", extra_args=["--data-dir", str(data)])
    endpoint_plugin = "dify-mock-tests/endpoint_plugin"

    def setup(name: str, greeting: str) -> httpx.Response:
        body = {"plugin_unique_identifier": endpoint_plugin, "name": name, "settings": {"greeting": greeting}}
        return server.http.post("/plugin/default/endpoint/setup", json=body)

    def listed() -> list[str]:
        answer = server.http.get("/plugin/default/endpoint/list", params={"page": 1, "page_size": 100}).json()
        return sorted(entry["name"] for entry in answer["data"])

    try:
        server.start()
        server.start_plugin(TEST_PLUGINS / "endpoint_plugin", python=sdk_python)
        assert setup("kept", "before the disk filled").status_code == 200
        assert server.process is not None
        small_disk.fill(server.process.pid)

        refused = setup("big", "g" * BIG)
        assert refused.status_code == 507, refused.text
        message = json.loads(refused.json()["message"])["message"]
        assert f"the data folder {data} is full" in message and "the endpoint was not changed" in message
        assert listed() == ["kept"]  # nothing half-made in memory either

        small_disk.free(server.process.pid)
        assert setup("big", "g" * BIG).status_code == 200
        assert listed() == ["big", "kept"]
        assert "Traceback" not in server.log()
    finally:
        server.stop()
    assert integrity(data / "endpoints.sqlite3") == "ok"
    with MockServer(tmp_path / "restarted", extra_args=["--data-dir", str(data)]) as restarted:
        names = [entry["name"] for entry in restarted.http.get("/plugin/default/endpoint/list").json()["data"]]
        assert sorted(names) == ["big", "kept"]
