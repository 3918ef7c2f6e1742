"""A user's mistakes, as the command line meets them: one line that says what to do, exit status 2, no traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from dify_mock.testing import MockServer

REPO_ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DIFY_MOCK_")}
    return subprocess.run(
        [sys.executable, "-m", "dify_mock", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
        cwd=cwd,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


@pytest.fixture
def busy_port():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    yield listener.getsockname()[1]
    listener.close()


def test_a_port_in_use_says_which_flag_picks_another(tmp_path, busy_port):
    http = one_line(cli("serve", "--port", str(busy_port), "--debug-port", "0", "--data-dir", str(tmp_path)))
    assert f"port {busy_port} (the HTTP API) on 127.0.0.1 is already in use" in http
    assert "another dify-mock running" in http and "--port" in http
    debug = one_line(cli("serve", "--port", "0", "--debug-port", str(busy_port), "--data-dir", str(tmp_path)))
    assert f"port {busy_port} (remote debug)" in debug and "--debug-port" in debug


def test_a_second_mock_on_the_same_ports_is_refused_in_one_line(tmp_path):
    with MockServer(tmp_path / "first") as first:
        second = cli("serve", "--port", str(first.port), "--debug-port", "0", "--data-dir", str(tmp_path / "second"))
        assert "is already in use: is another dify-mock running?" in one_line(second)
        assert first.http.get("/health/check").status_code == 200  # the first one is untouched


def test_port_zero_listens_on_a_free_port_and_says_which(tmp_path):
    server = MockServer(tmp_path / "data", extra_args=["--port", "0", "--debug-port", "0"])
    # MockServer passes its own --port first; the later flags win, so the mock picks both ports itself.
    server.data_dir.mkdir(parents=True)
    process = subprocess.Popen(
        server.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path
    )
    try:
        assert process.stdout is not None
        ready = next(line for line in process.stdout if "dify-mock is ready" in line)
        assert ":0," not in ready and "remote debug on localhost:0" not in ready, ready
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_commands_that_need_a_running_mock_say_how_to_start_one(busy_port):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    for args in (["journal"], ["endpoints"], ["invoke", "tool", "provider", "tool"], ["journal", "--summary"]):
        line = one_line(cli(*args, "--url", url) if args[0] != "invoke" else cli("invoke", "--url", url, *args[1:]))
        assert f"no dify-mock answers at {url}" in line and "dify-mock serve" in line and "--url" in line, line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "/nonexistent/plugin"], "/nonexistent/plugin is not a folder"),
        (["check", "/nonexistent/plugin"], "/nonexistent/plugin: no such plugin folder or .difypkg"),
        (["run", str(REPO_ROOT / "tests")], "has no manifest.yaml: it is not a plugin folder"),
        (
            ["run", str(REPO_ROOT / "tests/plugins/model_caller"), "--python", "/nonexistent/python"],
            "cannot run /nonexistent/python",
        ),
        (
            ["run", str(REPO_ROOT / "tests/plugins/model_caller"), "--python", sys.executable],
            "cannot import dify_plugin",
        ),
    ],
)
def test_a_missing_file_or_a_plugin_that_cannot_start_is_one_line(tmp_path, args, expected):
    assert expected in one_line(cli(*args, "--data-dir", str(tmp_path)) if args[0] == "run" else cli(*args))


def test_help_and_light_commands_do_not_import_the_server(tmp_path):
    probe = """
import json, sys
from dify_mock.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""
    server_modules = ("fastapi", "starlette", "uvicorn", "dify_mock.host", "dify_mock.http", "dify_mock.startup")
    for args, unwanted in (
        (["--help"], (*server_modules, "pydantic", "yaml", "httpx", "dify_mock.config", "dify_mock.protocol")),
        (["--version"], (*server_modules, "pydantic", "dify_mock.config")),
        (["journal", "--url", "http://127.0.0.1:9", "--limit", "1"], (*server_modules, "dify_mock.answers")),
        (["invoke", "tool", "--help"], (*server_modules, "dify_mock.answers")),
        (["endpoints", "--url", "http://127.0.0.1:9"], (*server_modules, "dify_mock.answers")),
    ):
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
        modules = json.loads(done.stdout.strip().splitlines()[-1])
        loaded = [name for name in modules if name.split(".")[0] in unwanted or name.rpartition(".")[0] in unwanted]
        loaded += [name for name in modules if any(name.startswith(f"{module}.") for module in unwanted)]
        assert not loaded, f"dify-mock {' '.join(args)} imported {sorted(set(loaded))[:8]}"


def test_every_command_has_a_description_or_help(tmp_path):
    for command in ("serve", "run", "invoke", "endpoints", "journal", "check"):
        done = cli(command, "--help", cwd=tmp_path)
        assert done.returncode == 0
        assert "env: DIFY_MOCK_" in done.stdout or command == "check", command
    listing = cli("--help", cwd=tmp_path).stdout
    for command in ("serve", "run", "invoke", "endpoints", "journal", "check", "--version"):
        assert command in listing
