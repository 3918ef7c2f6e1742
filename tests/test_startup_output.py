"""What `dify-mock serve` prints at start: lines a person can act on."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from dify_mock.testing import MockServer


def test_startup_names_the_env_lines_dashboard_fixture_counts_and_dead_rules(tmp_path: Path) -> None:
    empty = tmp_path / "empty-fixtures"
    empty.mkdir()
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "llm:\n"
        "  - reply: {text: always}\n"  # matches every call...
        "  - name: never\n"
        "    match: {prompt: {contains: hi}}\n"  # ...so this one can never answer
        "    reply: {text: hi}\n"
        "moderation: [{reply: {flagged: false}}]\n"
    )
    with MockServer(tmp_path / "data", fixtures=[empty, rules]) as server:
        deadline = time.monotonic() + 60
        while "Fixture rules loaded" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = server.log()
    assert "INSTALL_METHOD=remote" in log
    assert f"REMOTE_INSTALL_URL=localhost:{server.debug_port}" in log
    assert "REMOTE_INSTALL_KEY=" in log
    assert f"Dashboard: http://localhost:{server.port}/" in log
    assert f"dify-mock journal -f --url http://localhost:{server.port}" in log
    assert f"{rules}  (llm: 2, moderation: 1)" in log
    assert f"warning: {rules}:3: llm rule 'never' can never answer" in log
    assert f"warning: --fixtures {empty}: no .yaml or .yml file in this folder" in log


def test_startup_lines_and_uploads_use_the_published_address_it_is_told(tmp_path: Path) -> None:
    """In a container, ports 5002 and 5003 are published elsewhere: the lines a person copies must say where."""
    public = {"DIFY_MOCK_PUBLIC_URL": "http://mock.example:15002", "DIFY_MOCK_PUBLIC_DEBUG_URL": "localhost:15003"}
    with MockServer(tmp_path / "data", env=public, extra_args=["--server-key", "api-key"]) as server:
        deadline = time.monotonic() + 60
        while "Dashboard:" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = server.log().partition("dify-mock is ready")[2]  # the log's first line is the command, key and all
        key = {"X-Api-Key": "api-key"}
        info = httpx.get(f"{server.url}/mock/info", headers={**key, "Host": "mock.example:15002"}, timeout=30).json()
        other = httpx.get(f"{server.url}/mock/info", headers={**key, "Host": "other.example:15002"}, timeout=30)
    assert other.status_code == 421  # the name it was told is served; any other is still refused
    assert "REMOTE_INSTALL_URL=localhost:15003" in log
    assert "Dashboard: http://mock.example:15002/" in log
    assert "dify-mock journal -f --url http://mock.example:15002 --server-key <the server key>`" in log
    assert "api-key" not in log  # the server key itself is never printed
    assert info["public_debug_url"] == "localhost:15003"


def test_a_published_address_that_is_not_host_and_port_is_refused_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dify-mock"), "serve", "--public-debug-url", "http://localhost:15003"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "must be HOST:PORT" in done.stderr, done.stderr
