"""docker/Dockerfile and docker/compose.yaml, built and run by a real container engine, as docs/container.md says.

Real SDK plugins run on this machine and connect through the published ports; the CLI talks to the container with
--url and --server-key. Skipped only when no engine answers (`docker info`); CI starts one first
(../shared/tools/container/up in .ci/run). Names carry a random suffix and host ports are free ones, so that this
can run beside other tests and other runs; everything made here is removed at the end, except the engine's layer
cache, which makes the next build quick.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import REPO_ROOT, TEST_PLUGINS

DOCKER = shutil.which("docker")
COMPOSE = shutil.which("docker-compose")
KEY, SERVER_KEY = "container-debug-key", "container-api-key-9f2c"
UID = "10001"
WAIT = 180  # seconds: a bound for events, never a timing (the machines that run this can be busy)
DIFY_MOCK = str(Path(sys.executable).parent / "dify-mock")
MOUNTED_RULES = "moderation:\n  - name: mounted\n    match: {text: {contains: container}}\n    reply: {flagged: true}\n"


def _engine_answers() -> bool:
    if DOCKER is None:
        return False
    try:
        return subprocess.run([DOCKER, "info"], capture_output=True, timeout=60).returncode == 0
    except subprocess.TimeoutExpired:
        return False


pytestmark = pytest.mark.skipif(not _engine_answers(), reason="no container engine answers `docker info`")


def docker(*args: str, check: bool = True, timeout: float = WAIT) -> subprocess.CompletedProcess[str]:
    assert DOCKER is not None
    done = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert done.returncode == 0, f"docker {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shared_folder(prefix: str, owner: int | None = None) -> Path:
    """A folder the container's user can read: outside pytest's tmp_path, which only root may enter."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    folder.chmod(0o755)
    if owner is not None:
        os.chown(folder, owner, owner)
    return folder


def logs(name: str) -> str:
    done = docker("logs", name, check=False)
    return done.stdout + done.stderr


def state(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(docker("inspect", "-f", "{{json .State}}", name).stdout)
    return result


def wait_healthy(name: str) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        current = state(name)
        if current.get("Health", {}).get("Status") == "healthy":
            return
        assert current["Running"], f"{name} stopped (exit {current['ExitCode']}):\n{logs(name)}"
        assert time.monotonic() < deadline, f"{name} not healthy after {WAIT} s:\n{logs(name)}"
        time.sleep(0.2)


def wait_exited(name: str) -> int:
    done = docker("wait", name, timeout=WAIT)
    return int(done.stdout.strip())


def wait_until(what: str, condition: Any, *, diagnose: Any = lambda: "") -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {WAIT} s\n{diagnose()}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def names() -> Iterator[str]:
    prefix = f"dify-mock-test-{secrets.token_hex(4)}"
    yield prefix
    found = docker("ps", "-aq", "--filter", f"name={prefix}", check=False).stdout.split()
    if found:
        docker("rm", "-f", *found, check=False)
    volumes = docker("volume", "ls", "-q", "--filter", f"name={prefix}", check=False).stdout.split()
    if volumes:
        docker("volume", "rm", "-f", *volumes, check=False)


@pytest.fixture(scope="module")
def image(names: str) -> Iterator[str]:
    """The image, built as docs/container.md says (under this run's own tag)."""
    tag = f"{names}:latest"
    docker("build", "-q", "-f", "docker/Dockerfile", "-t", tag, str(REPO_ROOT), timeout=1800)
    yield tag
    docker("rmi", "-f", tag, check=False)


class Plugin:
    """A test plugin of tests/plugins, run by the SDK on this machine, connecting to a published debug port."""

    def __init__(self, sdk_python: str, name: str, debug_port: int, key: str = KEY) -> None:
        self.log = Path(tempfile.mkstemp(prefix=f"dify-mock-test-{name}-", suffix=".log")[1])
        env = {
            **os.environ,
            "INSTALL_METHOD": "remote",
            "REMOTE_INSTALL_URL": f"127.0.0.1:{debug_port}",
            "REMOTE_INSTALL_KEY": key,
        }
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [sdk_python, "-m", "main"],
                cwd=TEST_PLUGINS / name,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=60)
        self.log.unlink(missing_ok=True)


@contextlib.contextmanager
def plugins(*started: Plugin) -> Iterator[None]:
    try:
        yield
    finally:
        for plugin in started:
            plugin.stop()


def registered(url: str) -> set[str]:
    try:
        answer = httpx.get(f"{url}/plugin/default/management/list", headers={"X-Api-Key": SERVER_KEY}, timeout=10)
    except httpx.TransportError:
        return set()
    return {entry["plugin_id"] for entry in answer.json()["data"]} if answer.status_code == 200 else set()


def cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    """The CLI on this machine against the container, as docs/container.md says: --url and --server-key."""
    command = [DIFY_MOCK, *args[:1], "--url", url, "--server-key", SERVER_KEY, *args[1:]]
    return subprocess.run(command, capture_output=True, text=True, timeout=WAIT, env={**os.environ, "NO_COLOR": "1"})


def journal(url: str, kind: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{url}/mock/journal", params={"type": kind}, headers={"X-Api-Key": SERVER_KEY}, timeout=30)
    assert answer.status_code == 200, answer.text
    entries: list[dict[str, Any]] = answer.json()["entries"]
    return entries


def test_the_image_serves_plugins_on_this_machine_and_keeps_its_state_across_a_restart(
    image: str, names: str, sdk_python: str
) -> None:
    fixtures = shared_folder("dify-mock-test-fixtures-")
    (fixtures / "rules.yaml").write_text(MOUNTED_RULES)
    (fixtures / "rules.yaml").chmod(0o644)
    container, volume = f"{names}-serve", f"{names}-data"
    http_port, debug_port = free_port(), free_port()
    url = f"http://127.0.0.1:{http_port}"
    docker(
        "run", "-d", "--name", container,
        "-p", f"127.0.0.1:{http_port}:5002", "-p", f"127.0.0.1:{debug_port}:5003",
        "-e", f"DIFY_MOCK_KEY={KEY}", "-e", f"DIFY_MOCK_SERVER_KEY={SERVER_KEY}",
        "-e", f"DIFY_MOCK_PUBLIC_URL=http://localhost:{http_port}",
        "-e", f"DIFY_MOCK_PUBLIC_DEBUG_URL=localhost:{debug_port}",
        "-v", f"{volume}:/data", "-v", f"{fixtures}:/fixtures:ro",
        image,
    )  # fmt: skip
    model_caller = Plugin(sdk_python, "model_caller", debug_port)
    platform_caller = Plugin(sdk_python, "platform_caller", debug_port)
    wrong_key = Plugin(sdk_python, "web_search", debug_port, key="not-the-key")
    try:
        with plugins(model_caller, platform_caller, wrong_key):
            wait_healthy(container)
            assert docker("exec", container, "id", "-u").stdout.strip() == UID  # not root
            banner = logs(container)
            assert f"REMOTE_INSTALL_URL=localhost:{debug_port}" in banner, banner
            assert f"Dashboard: http://localhost:{http_port}/" in banner
            assert "/fixtures/rules.yaml  (moderation: 1)" in banner  # the mounted folder, not the examples
            assert "examples.yaml" not in banner
            assert SERVER_KEY not in banner

            assert httpx.get(f"{url}/mock/journal", timeout=30).status_code == 401  # every API call needs the key
            wanted = {"dify-mock-tests/model_caller", "dify-mock-tests/platform_caller"}
            wait_until("both plugins registered", lambda: wanted <= registered(url), diagnose=lambda: logs(container))

            # A wrong REMOTE_INSTALL_KEY: refused, said in one line of the container's log, the key not shown.
            wait_until("the wrong key refused", lambda: "refused plugin" in logs(container))
            refused = [line for line in logs(container).splitlines() if "refused plugin" in line]
            assert len(refused) == 1 and "REMOTE_INSTALL_KEY" in refused[0] and "not-the-key" not in refused[0]
            assert not any("web_search" in plugin for plugin in registered(url))

            invoked = cli("invoke", "tool", "model_caller", "moderation", "text=in a container", url=url)
            assert invoked.returncode == 0, invoked.stderr
            assert '"flagged": true' in invoked.stdout.replace('"flagged":true', '"flagged": true'), invoked.stdout
            answered = journal(url, "moderation")
            assert len(answered) == 1 and "mounted" in answered[0]["answered_by"], answered  # the mounted fixture

            stored = cli("invoke", "tool", "platform_caller", "storage", "op=set", "key=k", "value=kept", url=url)
            assert stored.returncode == 0, stored.stderr

            docker("restart", container)
            wait_healthy(container)
            assert len(journal(url, "moderation")) == 1  # the journal outlived the restart (the /data volume)
            wait_until("the plugins reconnected", lambda: wanted <= registered(url), diagnose=lambda: logs(container))
            read = cli("invoke", "tool", "platform_caller", "storage", "op=get", "key=k", url=url)
            assert read.returncode == 0 and '"kept"' in read.stdout, read.stdout + read.stderr
            assert model_caller.process.poll() is None and platform_caller.process.poll() is None
    finally:
        docker("rm", "-f", container, check=False)
        docker("volume", "rm", "-f", volume, check=False)
        shutil.rmtree(fixtures, ignore_errors=True)


def refusal(image: str, name: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Runs the image until it exits: its status and the lines of its log."""
    keys = {"DIFY_MOCK_KEY": KEY, "DIFY_MOCK_SERVER_KEY": SERVER_KEY} if env is None else env
    docker("run", "-d", "--name", name, *(f"-e{k}={v}" for k, v in keys.items()), *args, image)
    try:
        status = wait_exited(name)
        return status, [line for line in logs(name).splitlines() if line.strip()]
    finally:
        docker("rm", "-f", name, check=False)


def test_bad_input_gives_one_line_in_the_log_and_a_non_zero_exit(image: str, names: str) -> None:
    status, lines = refusal(image, f"{names}-no-keys", env={})
    assert status == 2 and len(lines) == 1 and "--key and --server-key" in lines[0], lines

    broken = shared_folder("dify-mock-test-broken-")
    unwritable = shared_folder("dify-mock-test-unwritable-")  # root's, mode 755: uid 10001 cannot write in it
    try:
        (broken / "rules.yaml").write_text("llm:\n  - reply: {text: [unclosed\n")
        (broken / "rules.yaml").chmod(0o644)
        status, lines = refusal(image, f"{names}-broken", "-v", f"{broken}:/fixtures:ro")
        assert status == 2 and len(lines) == 1 and "/fixtures/rules.yaml" in lines[0], lines

        status, lines = refusal(image, f"{names}-unwritable", "-v", f"{unwritable}:/data")
        assert status == 2 and len(lines) == 1 and "cannot write to the data folder /data: uid 10001" in lines[0], lines
        assert list(unwritable.iterdir()) == []
    finally:
        shutil.rmtree(broken, ignore_errors=True)
        shutil.rmtree(unwritable, ignore_errors=True)

    with socket.socket() as taken:  # a host port another program holds
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        name = f"{names}-port-taken"
        done = docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:5002", image, check=False)
        docker("rm", "-f", name, check=False)
    assert done.returncode != 0 and "address already in use" in done.stderr, done.stderr


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose is not installed")
def test_compose_with_moved_ports_records_into_a_folder_as_its_owner_and_comes_down(
    image: str, names: str, sdk_python: str, tmp_path: Path
) -> None:
    assert COMPOSE is not None
    owner = 12345  # a user of this machine who is neither root nor the image's user
    cassettes = shared_folder("dify-mock-test-cassettes-", owner=owner)
    config = shared_folder("dify-mock-test-config-")
    shutil.copy(REPO_ROOT / "tests" / "openai_standin.py", config / "openai_standin.py")
    backend = {"type": "openai", "base_url": "http://127.0.0.1:8400/v1", "api_key_env": "STANDIN_KEY", "timeout": 30}
    (config / "dify-mock.yaml").write_text(
        yaml.safe_dump({"backends": {"standin": backend}, "chain": {"llm": ["fixtures", "standin", "builtin"]}})
    )
    for file in config.iterdir():
        file.chmod(0o644)
    # The test's own additions, as a user's override file would make them: this run's image, a config that records,
    # and an OpenAI stand-in sharing the mock's network namespace (so it is reached on the container's loopback).
    override = tmp_path / "override.yaml"
    override.write_text(
        yaml.safe_dump(
            {
                "services": {
                    "dify-mock": {
                        "image": image,
                        "environment": {
                            "DIFY_MOCK_CONFIG": "/config/dify-mock.yaml",
                            "DIFY_MOCK_RECORD": "/cassettes",
                            "STANDIN_KEY": "sk-standin-container",
                        },
                        "volumes": [f"{config}:/config:ro"],
                    },
                    "standin": {
                        "image": image,
                        "network_mode": "service:dify-mock",
                        "entrypoint": ["python", "/config/openai_standin.py", "--port", "8400"],
                        "volumes": [f"{config}:/config:ro"],
                    },
                },
            }
        )
    )
    http_port, debug_port = free_port(), free_port()
    env = {
        **os.environ,
        "DIFY_MOCK_CONTAINER_HTTP_PORT": str(http_port),
        "DIFY_MOCK_CONTAINER_DEBUG_PORT": str(debug_port),
        "DIFY_MOCK_CONTAINER_KEY": KEY,
        "DIFY_MOCK_CONTAINER_SERVER_KEY": SERVER_KEY,
        "DIFY_MOCK_CONTAINER_CASSETTES": str(cassettes),
        "DIFY_MOCK_CONTAINER_USER": f"{owner}:{owner}",
        "DIFY_MOCK_SERVER_KEY": "what-the-cli-uses",  # exported for the CLI: must not change the container's key
    }
    project = names.replace("-", "")
    compose = [COMPOSE, "-p", project, "-f", str(REPO_ROOT / "docker" / "compose.yaml"), "-f", str(override)]
    url = f"http://127.0.0.1:{http_port}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*compose, *args], capture_output=True, text=True, timeout=WAIT, env=env)
        assert done.returncode == 0, f"docker-compose {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    try:
        run("up", "-d", "--no-build")
        container = run("ps", "-q", "dify-mock").stdout.strip()
        wait_healthy(container)
        banner = logs(container)
        assert f"REMOTE_INSTALL_URL=localhost:{debug_port}" in banner and f"http://localhost:{http_port}/" in banner
        assert "examples.yaml" in banner  # compose's default fixtures: the repository's examples
        with plugins(model_caller := Plugin(sdk_python, "model_caller", debug_port)):
            wait_until(
                "model_caller registered",
                lambda: "dify-mock-tests/model_caller" in registered(url),
                diagnose=lambda: logs(container) + model_caller.log.read_text(errors="replace"),
            )
            invoked = cli("invoke", "tool", "model_caller", "llm", "prompt=recorded in a container", url=url)
            assert invoked.returncode == 0, invoked.stdout + invoked.stderr
        assert journal(url, "llm")[0]["answered_by"].startswith("backend:standin"), journal(url, "llm")
        recorded = [path for path in cassettes.rglob("*") if path.is_file()]
        assert recorded, logs(container)
        for path in [cassettes, *cassettes.rglob("*")]:  # nothing in the user's folder belongs to root
            assert path.stat().st_uid == owner, (path, path.stat().st_uid)
        assert "recorded in a container" in "".join(path.read_text() for path in recorded)
    finally:
        subprocess.run([*compose, "down", "-v"], capture_output=True, timeout=WAIT, env=env)
        subprocess.run(["rm", "-rf", str(cassettes), str(config)], timeout=60)
    left = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}").stdout.split()
    assert left == []
