"""`dify-mock run`: a real plugin started by the mock, as a folder and as a .difypkg, supervised."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_PLUGINS
from dify_mock.testing import MockServer
from wheelhouse import build_wheelhouse

MODEL_CALLER = "dify-mock-tests/model_caller"


class RunServer(MockServer):
    """`python -m dify_mock run PLUGIN ...` instead of `serve`: the mock starts the plugin itself."""

    startup_timeout = 180.0  # a .difypkg installs its requirements before the mock listens

    def __init__(self, data_dir: Path, plugin: Path, run_args: Sequence[str] = (), **options: Any) -> None:
        super().__init__(data_dir, **options)
        self.plugin = plugin
        self.run_args = list(run_args)

    def command(self) -> list[str]:
        args = super().command()
        at = args.index("serve")
        return [*args[:at], "run", str(self.plugin), *self.run_args, *args[at + 1 :]]


@pytest.fixture
def run_server(tmp_path: Path) -> Iterator[list[RunServer]]:
    servers: list[RunServer] = []
    yield servers
    for server in servers:
        server.stop()
        print(f"--- end of the dify-mock log ({server.log_path}) ---\n{server.log()[-6000:]}")


def start(servers: list[RunServer], data_dir: Path, plugin: Path, *run_args: str, **options: Any) -> RunServer:
    server = RunServer(data_dir, plugin, run_args, **options)
    servers.append(server)
    return server.start(attempts=1)


def plugin_pid(server: MockServer, after: int = 0) -> int:
    pids = [int(pid) for pid in re.findall(r"started \S+ \(\w+ runtime\) from .*, pid (\d+)", server.log())]
    assert len(pids) > after, server.log()
    return pids[-1]


def wait_for(condition: Any, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def copy_plugin(source: Path, into: Path, main: str | None = None) -> Path:
    shutil.copytree(source, into, ignore=shutil.ignore_patterns(".venv", "__pycache__", ".env"))
    if main is not None:
        (into / "main.py").write_text(main)
    return into


def llm_text(server: MockServer, prompt: str) -> str:
    chunks = server.invoke_tool(MODEL_CALLER, "model_caller", "llm", {"prompt": prompt})
    return str(chunks[0]["message"]["json_object"]["text"])


def test_a_plugin_folder_runs_as_the_daemon_runs_it(run_server, tmp_path, sdk_python):
    server = start(run_server, tmp_path / "mock", TEST_PLUGINS / "model_caller", "--python", sdk_python)
    assert server.wait_for_plugin(MODEL_CALLER, timeout=60)
    entry = next(plugin for plugin in server.plugins() if plugin["plugin_id"] == MODEL_CALLER)
    assert entry["transport"] == "stdio"
    assert entry["assets"] == ["icon.svg"]
    assert {tool["identity"]["name"] for tool in entry["declaration"]["tools"][0]["tools"]} >= {"llm", "tts"}
    assert "weather" in llm_text(server, "what is the weather?")
    reverse = server.journal(kind="reverse", type="llm")
    assert reverse and reverse[-1]["plugin_id"] == MODEL_CALLER
    logs = server.journal(kind="log", plugin_id=MODEL_CALLER)
    assert any("Installed tool: model_caller" in entry["request"]["message"] for entry in logs)
    assert "[dify-mock-tests/model_caller] Installed tool: model_caller" in server.log()
    assert "reports a manifest that differs" not in server.log()

    pid = plugin_pid(server)  # stopping the mock stops the plugin
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=60)
    wait_for(lambda: not _alive(pid), timeout=60, what=f"plugin pid {pid} to be gone")
    assert "stopping dify-mock-tests/model_caller (local runtime): dify-mock is stopping" in server.log()


def test_the_remote_runtime_starts_the_same_plugin_over_tcp(run_server, tmp_path, sdk_python):
    plugin = TEST_PLUGINS / "model_caller"
    server = start(run_server, tmp_path / "mock", plugin, "--runtime", "remote", "--python", sdk_python)
    assert server.wait_for_plugin(MODEL_CALLER, timeout=60)
    assert next(p for p in server.plugins() if p["plugin_id"] == MODEL_CALLER)["transport"] == "tcp"
    chunks = server.invoke_tool(MODEL_CALLER, "model_caller", "moderation", {"text": "a bomb"})
    assert chunks[0]["message"]["json_object"] == {"flagged": True}
    wait_for(lambda: "is running (remote runtime" in server.log(), what="the supervisor to see it registered")


def test_a_crash_is_reported_and_the_plugin_restarted(run_server, tmp_path, sdk_python):
    server = start(run_server, tmp_path / "mock", TEST_PLUGINS / "model_caller", "--python", sdk_python)
    assert server.wait_for_plugin(MODEL_CALLER, timeout=60)
    first = plugin_pid(server)
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: "exited with code -9 while running" in server.log(), what="the crash report")
    assert "starting it again in 1 s" in server.log()
    crash = server.journal(kind="runtime", type="crash")[-1]
    assert crash["plugin_id"] == MODEL_CALLER and crash["error"] == "exited with code -9"
    assert any("Installed tool" in line for line in crash["request"]["last_output"])
    wait_for(lambda: plugin_pid(server) != first, what="a new process")
    wait_for(lambda: MODEL_CALLER in server.plugin_ids(), what="the new process to register")
    assert "weather" in llm_text(server, "weather again?")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone for our purpose
        return stat.read().split()[2] != "Z"


def test_a_plugin_that_dies_at_startup_is_reported_with_its_output_and_retried(run_server, tmp_path, sdk_python):
    broken = copy_plugin(
        TEST_PLUGINS / "model_caller",
        tmp_path / "broken",
        main='import sys\nprint("loading settings")\nraise RuntimeError("the plugin cannot start: API_KEY is missing")\n',
    )
    server = start(run_server, tmp_path / "mock", broken, "--python", sdk_python)
    wait_for(lambda: "starting it again in 2 s" in server.log(), what="two failed starts")
    log = server.log()
    assert "exited with code 1 before it was ready" in log
    assert "RuntimeError: the plugin cannot start: API_KEY is missing" in log
    assert "loading settings" in log
    assert server.plugins() == []
    crashes = server.journal(kind="runtime", type="crash")
    assert [crash["request"]["restart_in_s"] for crash in crashes[:2]] == [1.0, 2.0]


def test_a_plugin_that_floods_its_output_is_held_back_and_still_served(run_server, tmp_path, sdk_python):
    flooding = copy_plugin(
        TEST_PLUGINS / "model_caller",
        tmp_path / "flood",
        main=(
            "import sys\n"
            "from dify_plugin import DifyPluginEnv, Plugin\n\n"
            "for number in range(100_000):\n"
            "    print(f'flood line {number}', file=sys.stderr)\n"
            "plugin = Plugin(DifyPluginEnv(MAX_REQUEST_TIMEOUT=120))\n\n"
            "if __name__ == '__main__':\n"
            "    plugin.run()\n"
        ),
    )
    server = start(run_server, tmp_path / "mock", flooding, "--python", sdk_python)
    assert server.wait_for_plugin(MODEL_CALLER, timeout=60)
    assert "weather" in llm_text(server, "weather in a flood?")
    wait_for(lambda: "floods its output" in server.log(), what="the summary of the held-back lines")
    assert server.log().count("flood line") < 2_000


def test_a_package_runs_with_its_requirements_installed_offline(run_server, tmp_path, sdk_python, wheelhouse):
    package = tmp_path / "model_caller.difypkg"
    make_package(TEST_PLUGINS / "model_caller", package)
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse)}
    data_dir = tmp_path / "mock"
    server = start(run_server, data_dir, package, env=offline)
    assert server.wait_for_plugin(MODEL_CALLER, timeout=60)
    assert "weather" in llm_text(server, "weather from a package?")
    log = server.log()
    assert "installing the requirements of model_caller.difypkg with pip (dify-plugin>=0.10,<0.11)" in log
    (venv,) = (path for path in (data_dir / "venvs").iterdir() if path.is_dir())
    assert (venv / ".dify-mock-ready").is_file()
    server.stop()

    again = start(run_server, data_dir, package, env=offline)
    assert again.wait_for_plugin(MODEL_CALLER, timeout=60)
    assert f"using the cached environment {venv}" in again.log()


def make_package(folder: Path, package: Path) -> None:
    """What `dify plugin package` makes: the folder's files zipped at the root of the archive."""
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            if path.is_file() and not {".venv", "__pycache__"} & set(relative.parts) and path.name != ".env":
                archive.write(path, relative.as_posix())


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory, sdk_python: str) -> Path:
    site = subprocess.run(
        [sdk_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return build_wheelhouse(Path(site), tmp_path_factory.mktemp("wheelhouse"))


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dify_mock", "run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_a_folder_without_a_manifest_is_refused(tmp_path):
    (tmp_path / "not_a_plugin").mkdir()
    result = run_cli(str(tmp_path / "not_a_plugin"), "--data-dir", str(tmp_path / "mock"))
    assert result.returncode == 2
    assert "has no manifest.yaml: it is not a plugin folder" in result.stderr


def test_a_package_that_is_not_a_zip_is_refused(tmp_path):
    package = tmp_path / "broken.difypkg"
    package.write_text("this is not a zip file")
    result = run_cli(str(package), "--data-dir", str(tmp_path / "mock"))
    assert result.returncode == 2
    assert f"{package} is not a .difypkg package: it is not a zip file" in result.stderr


def test_a_package_whose_requirements_fail_to_install_is_refused_with_pips_output(tmp_path):
    folder = copy_plugin(TEST_PLUGINS / "model_caller", tmp_path / "needs_missing")
    (folder / "requirements.txt").write_text("dify-mock-no-such-package-anywhere==9.9.9\n")
    package = tmp_path / "needs_missing.difypkg"
    make_package(folder, package)
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(empty)}
    result = run_cli(str(package), "--data-dir", str(tmp_path / "mock"), env=offline)
    assert result.returncode == 2, result.stderr
    assert "installing the requirements of needs_missing.difypkg failed (pip exited with 1)" in result.stderr
    assert "No matching distribution found for dify-mock-no-such-package-anywhere==9.9.9" in result.stderr
    assert not any((tmp_path / "mock" / "venvs").glob("*/bin"))  # the half-made environment is gone
