"""docker/Dockerfile, without a container engine: the environment it describes, built and smoke-tested.

Same base Python (3.12), same files (its COPY lines), same install command (`pip install .`, pip's cache kept for
speed), same user (uid 10001 when the tests run as root), same environment (DIFY_MOCK_HOST=0.0.0.0, so keys are
required), same entry point and health check. The container's /data and /fixtures are temporary folders here.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from conftest import REPO_ROOT, TEST_PLUGINS

DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
COMPOSE = REPO_ROOT / "docker" / "compose.yaml"
KEY, SERVER_KEY = "container-debug-key", "container-api-key"


@dataclass
class Dockerfile:
    base: str = ""
    copies: list[tuple[list[str], str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    user: str = ""
    env: dict[str, str] = field(default_factory=dict)
    expose: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    created_uid: str = ""

    @classmethod
    def parse(cls, path: Path) -> Dockerfile:
        parsed = cls()
        logical = path.read_text().replace("\\\n", " ")
        for line in logical.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            instruction, _, rest = line.partition(" ")
            rest = rest.strip()
            match instruction.upper():
                case "FROM":
                    parsed.base = rest
                case "COPY":
                    *sources, destination = shlex.split(rest)
                    parsed.copies.append((sources, destination))
                case "RUN":
                    parsed.runs.append(rest)
                    words = shlex.split(rest)
                    if "useradd" in words and "--uid" in words:
                        parsed.created_uid = words[words.index("--uid") + 1]
                case "USER":
                    parsed.user = rest
                case "ENV":
                    parsed.env.update(pair.split("=", 1) for pair in shlex.split(rest))  # type: ignore[misc]
                case "EXPOSE":
                    parsed.expose += rest.split()
                case "HEALTHCHECK":
                    parsed.healthcheck = json.loads(rest[rest.index("CMD") + 3 :].strip())
                case "ENTRYPOINT":
                    parsed.entrypoint = json.loads(rest)
        return parsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_dockerfile_describes_what_the_issue_asks_for() -> None:
    docker = Dockerfile.parse(DOCKERFILE)
    assert docker.base == "python:3.12-slim"
    assert any(run.startswith("pip install --no-cache-dir .") for run in docker.runs)
    assert docker.user.split(":")[0] == docker.created_uid == "10001"  # numeric and not root
    assert docker.env["DIFY_MOCK_HOST"] == "0.0.0.0"
    assert sorted(docker.expose) == ["5002", "5003"]
    assert docker.healthcheck and docker.entrypoint == ["dify-mock", "serve"]
    compose = COMPOSE.read_text()
    for volume in ("/fixtures", "/cassettes", "/data"):
        assert f":{volume}" in compose


class Runner:
    """Runs commands as the container's user: uid 10001 when we are root, in a mount namespace where root's home
    (which may hold the interpreter, mode 0700) shows only the interpreter, as an image would."""

    def __init__(self, uid: str, workdir: Path) -> None:
        self.uid = uid
        self.prefix: list[str] = []
        if os.geteuid() != 0:
            return  # already not root
        if not shutil.which("setpriv"):
            pytest.skip("running as root and setpriv is missing: cannot run the server as uid 10001")
        drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
        if self._works(drop):
            self.prefix = drop
            return
        hidden = next((p for p in Path(sys.base_prefix).parents if not os.stat(p).st_mode & 0o001), None)
        if hidden is None:
            pytest.skip(f"uid {uid} cannot run {sys.base_prefix}/bin/python: the non-root run is skipped")
        keep = workdir / "interpreter"
        keep.mkdir()
        script = (
            f"mount --bind {shlex.quote(sys.base_prefix)} {shlex.quote(str(keep))}"
            f" && mount -t tmpfs -o mode=755 tmpfs {shlex.quote(str(hidden))}"
            f" && mkdir -p {shlex.quote(sys.base_prefix)}"
            f" && mount --bind {shlex.quote(str(keep))} {shlex.quote(sys.base_prefix)}"
            ' && exec "$@"'
        )
        namespaced = ["unshare", "--mount", "sh", "-c", script, "sh", *drop]
        if not shutil.which("unshare") or not self._works(namespaced):
            pytest.skip(
                f"uid {uid} cannot run {sys.base_prefix}/bin/python (inside {hidden}) and no mount namespace "
                "is allowed here: the non-root run is skipped"
            )
        self.prefix = namespaced

    def _works(self, prefix: list[str]) -> bool:
        python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        done = subprocess.run([*prefix, str(python), "-c", "pass"], capture_output=True, timeout=30)
        return done.returncode == 0

    def command(self, args: list[str]) -> list[str]:
        return [*self.prefix, *args]


@pytest.fixture
def image(tmp_path: Path) -> Iterator[tuple[Dockerfile, Path, Path]]:
    """The image's file system, as far as dify-mock is concerned: /app with a venv, and writable /data."""
    docker = Dockerfile.parse(DOCKERFILE)
    assert sys.version_info[:2] == (3, 12), "the base image has Python 3.12"
    # Outside tmp_path: pytest makes that folder private to root, and the server runs as another user.
    root = Path(tempfile.mkdtemp(prefix="dify-mock-image-"))
    try:
        root.chmod(0o755)
        app = root / "app"
        app.mkdir()
        ignored = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*")
        for sources, destination in docker.copies:
            for source in sources:
                target = app / destination if not destination.endswith("/") else app / destination / source
                if (REPO_ROOT / source).is_dir():
                    shutil.copytree(REPO_ROOT / source, target, ignore=ignored)
                else:
                    shutil.copy(REPO_ROOT / source, target)
        venv = root / "venv"
        subprocess.run([sys._base_executable, "-m", "venv", str(venv)], check=True, timeout=120)  # type: ignore[attr-defined]
        install = next(run for run in docker.runs if run.startswith("pip install")).split("&&")[0]
        install_args = [word for word in shlex.split(install) if word != "--no-cache-dir"]  # keep pip's cache: faster
        installed = subprocess.run(
            [str(venv / "bin" / "python"), "-m", *install_args, "-q"],
            cwd=app,
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        )
        assert installed.returncode == 0, f"`{install}` failed:\n{installed.stdout}\n{installed.stderr}"
        for folder in ("data", "fixtures", "cassettes", "home"):
            (root / folder).mkdir()
            if os.geteuid() == 0:
                os.chown(root / folder, int(docker.created_uid), int(docker.created_uid))
        yield docker, root, venv
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_image_environment_starts_requires_keys_and_serves_a_plugin(
    image: tuple[Dockerfile, Path, Path], sdk_python: str
) -> None:
    docker, root, venv = image
    runner = Runner(docker.created_uid, root)
    (root / "fixtures" / "rules.yaml").write_text(
        "moderation:\n  - name: mounted\n    match: {text: {contains: container}}\n    reply: {flagged: true}\n"
    )
    port, debug_port = free_port(), free_port()
    container_paths = {"/data": root / "data", "/fixtures": root / "fixtures", "/cassettes": root / "cassettes"}
    env = {
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(root / "home"),
        **{name: str(container_paths.get(value, value)) for name, value in docker.env.items()},
        "DIFY_MOCK_PORT": str(port),  # the container's 5002 and 5003, on free ports here
        "DIFY_MOCK_DEBUG_PORT": str(debug_port),
    }
    assert env["DIFY_MOCK_HOST"] == "0.0.0.0"
    entrypoint = runner.command([str(venv / "bin" / docker.entrypoint[0]), *docker.entrypoint[1:]])

    refused = subprocess.run(entrypoint, cwd=root / "app", env=env, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "--key and --server-key" in refused.stderr  # all interfaces: no start without keys

    env |= {"DIFY_MOCK_KEY": KEY, "DIFY_MOCK_SERVER_KEY": SERVER_KEY}
    log = root / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(entrypoint, cwd=root / "app", env=env, stdout=output, stderr=subprocess.STDOUT)
    plugin: subprocess.Popen[bytes] | None = None
    try:
        healthcheck = runner.command([str(venv / "bin" / docker.healthcheck[0]), *docker.healthcheck[1:]])
        deadline = time.monotonic() + 60
        while subprocess.run(healthcheck, env=env, capture_output=True, timeout=30).returncode != 0:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        status = subprocess.run(["ps", "-o", "uid=", "-p", str(server.pid)], capture_output=True, text=True)
        if os.geteuid() == 0:
            assert status.stdout.strip() == docker.created_uid  # not root
        banner = log.read_text()
        assert "rules.yaml  (moderation: 1)" in banner and "Dashboard: http://localhost:" in banner

        url = f"http://127.0.0.1:{port}"
        headers = {"X-Api-Key": SERVER_KEY}
        assert httpx.get(f"{url}/mock/journal", timeout=10).status_code == 401
        assert httpx.get(f"{url}/", timeout=10).status_code == 200  # the dashboard ships in the package
        assert httpx.get(f"{url}/dashboard/app.js", timeout=10).status_code == 200

        plugin_env = {
            **os.environ,
            "INSTALL_METHOD": "remote",
            "REMOTE_INSTALL_URL": f"127.0.0.1:{debug_port}",
            "REMOTE_INSTALL_KEY": KEY,
        }
        plugin = subprocess.Popen(
            [sdk_python, "-m", "main"],
            cwd=TEST_PLUGINS / "model_caller",
            env=plugin_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            listed = httpx.get(f"{url}/plugin/default/management/list", headers=headers, timeout=10).json()["data"]
            if any(entry["plugin_id"] == "dify-mock-tests/model_caller" for entry in listed):
                break
            assert time.monotonic() < deadline and plugin.poll() is None, log.read_text()
            time.sleep(0.1)

        tool = {
            "provider": "model_caller",
            "tool": "moderation",
            "credentials": {},
            "tool_parameters": {"text": "in a container"},
        }
        body = {"user_id": "ci", "data": tool}
        answer = httpx.post(
            f"{url}/plugin/default/dispatch/tool/invoke",
            json=body,
            headers={**headers, "X-Plugin-ID": "dify-mock-tests/model_caller"},
            timeout=60,
        )
        assert answer.status_code == 200
        assert '"flagged":true' in answer.text.replace(" ", ""), answer.text  # the mounted fixture answered
        calls = httpx.get(f"{url}/mock/journal", params={"type": "moderation"}, headers=headers, timeout=10)
        assert calls.json()["entries"][0]["answered_by"] == "rule:mounted"
        assert (root / "data" / "journal.sqlite3").exists()

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, log.read_text()
    finally:
        if plugin is not None and plugin.poll() is None:
            os.killpg(plugin.pid, signal.SIGKILL)
            plugin.wait(timeout=10)
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
