"""Drive a running dify-mock from tests: start the server and real plugins as processes, talk HTTP to them.

`MockServer` is a client. It never imports the server app nor `dify_plugin` (importing the SDK monkey-patches
the process with gevent); it only starts processes and speaks HTTP, so it works against any dify-mock build.

    with MockServer(tmp_path) as server:
        plugin = server.start_plugin(Path("tests/plugins/model_caller"))
        chunks = server.invoke_tool(plugin.plugin_id, "model_caller", "llm", {"prompt": "hi"})
        assert server.journal(kind="reverse", type="llm")
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
import yaml

from dify_mock.testing.errors import parse_plugin_error, raise_plugin_error_from_json
from dify_mock.testing.processes import PluginProcess, free_ports, spawn, tail, terminate
from dify_mock.testing.sse import SSEParser, decode_chunks

DEFAULT_TENANT = "default"
DEFAULT_REMOTE_KEY = "dify-mock"
HARNESS_LINE = "--- dify-mock testing harness: "
PLUGIN_PYTHON_ENV = "DIFY_MOCK_PLUGIN_PYTHON"


class MockServer:
    """`python -m dify_mock serve` in a subprocess, on free ports, with its output in `data_dir/server.log`.

    `keys` are remote-debug keys (`--key KEY[=TENANT_ID]`; none: any key joins tenant "default");
    `server_key` is the X-Api-Key the plugin API requires (`--server-key`), sent on every request here.
    With `run_plugin` (a folder or a .difypkg, or several) the process is `dify-mock run`: the mock starts them itself,
    as Dify's daemon does, over stdin and stdout, with `plugin_python` as its interpreter.
    `DIFY_MOCK_*` variables of this process are not passed on (they are the server's flag defaults), so a test
    gets exactly the flags it asked for; use `env` to set some on purpose.
    """

    startup_timeout: float = 60.0
    request_timeout: float = 60.0

    def __init__(
        self,
        data_dir: Path,
        fixtures: Sequence[Path] = (),
        strict: bool = False,
        keys: Sequence[str] = (),
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        *,
        server_key: str | None = None,
        run_plugin: Path | Sequence[Path] | None = None,
        plugin_python: str | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.fixtures = [Path(f) for f in fixtures]
        self.strict = strict
        self.keys = list(keys)
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.tenant = DEFAULT_TENANT
        self.server_key = server_key
        self.run_plugin = run_plugin
        self.plugin_python = plugin_python
        self.cwd = cwd
        self.log_path = self.data_dir / "server.log"
        self.port = 0
        self.debug_port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.plugin_processes: list[PluginProcess] = []
        self._client: httpx.Client | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "dify_mock",
            *(["run", *self._run_targets()] if self.run_plugin is not None else ["serve"]),
            *(["--python", self.plugin_python] if self.run_plugin is not None and self.plugin_python else []),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--debug-port",
            str(self.debug_port),
            "--data-dir",
            str(self.data_dir),
        ]
        for fixture in self.fixtures:
            args += ["--fixtures", str(fixture)]
        if self.strict:
            args.append("--strict")
        for key in self.keys:
            args += ["--key", key]
        if self.server_key:
            args += ["--server-key", self.server_key]
        return args + self.extra_args

    def _run_targets(self) -> list[str]:
        targets = [self.run_plugin] if isinstance(self.run_plugin, Path) else list(self.run_plugin or ())
        return [str(target) for target in targets]

    def start(self, attempts: int = 3) -> Self:
        """Start the server and wait for `/health/check`; retries on fresh ports if it dies while starting."""
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        inherited = {name: value for name, value in os.environ.items() if not name.startswith("DIFY_MOCK_")}
        env = {**inherited, "PYTHONUNBUFFERED": "1", **self.env}
        for attempt in range(1, attempts + 1):
            self.port, self.debug_port = free_ports(2)
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(f"{HARNESS_LINE}start attempt {attempt}: {' '.join(self.command())}\n")
            self.process = spawn(self.command(), cwd=self.cwd, env=env, output_path=self.log_path)
            if self._wait_healthy(self.process):
                # The custom header marks the calls as a program's, not a web page's (see docs/security.md).
                self._client = httpx.Client(
                    base_url=self.url, timeout=self.request_timeout, headers={"X-Requested-With": "dify-mock"}
                )
                return self
            exited = self.process.poll() is not None
            terminate(self.process, grace=1.0)
            self.process = None
            if not exited:
                break  # it hung rather than died: a port clash is not the likely cause
        raise RuntimeError(
            f"dify-mock did not become healthy on {self.url}; last lines of {self.log_path}:\n{tail(self.log_path)}"
        )

    def _wait_healthy(self, process: subprocess.Popen[bytes]) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=2.0) as probe:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    return False
                try:
                    if probe.get(f"{self.url}/health/check").status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        return False

    def stop(self, grace: float = 5.0) -> None:
        """Stop every plugin started here, then the server (SIGTERM, SIGKILL after `grace` seconds)."""
        for plugin in self.plugin_processes:
            plugin.stop()
        self.plugin_processes.clear()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.process is not None:
            terminate(self.process, grace)
            self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def log(self, *, command_lines: bool = True) -> str:
        """The server's output so far; without `command_lines`, only what the server printed."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        if command_lines:
            return text
        return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(HARNESS_LINE))

    def wait_for_log(self, text: str, timeout: float = 60.0) -> str:
        """Wait until `text` is in the server's output; returns the output, or raises TimeoutError with its tail."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log()):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{text!r} not in the dify-mock log within {timeout} s; its end:\n{log[-3000:]}")
            time.sleep(0.05)
        return log

    # -- HTTP ---------------------------------------------------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        """An httpx client bound to the server's base URL (for routes this class does not wrap)."""
        if self._client is None:
            raise RuntimeError("the mock server is not started")
        return self._client

    def _headers(self, plugin_id: str | None = None) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.server_key:
            headers["X-Api-Key"] = self.server_key
        if plugin_id is not None:
            headers["X-Plugin-ID"] = plugin_id
        return headers

    def _envelope_data(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError(f"{response.request.url}: expected a JSON object, got {body!r}")
        if body.get("code", 0) != 0:
            raise parse_plugin_error(body)
        return body.get("data")

    def plugins(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """The plugins installed for the tenant (`/plugin/{tenant}/management/list`)."""
        response = self.http.get(f"/plugin/{tenant or self.tenant}/management/list", headers=self._headers())
        data = self._envelope_data(response)
        return list(data or [])

    def plugin_ids(self, tenant: str | None = None) -> set[str]:
        return {str(entry.get("plugin_id")) for entry in self.plugins(tenant)}

    def wait_for_plugin(
        self, plugin_id: str, *, present: bool = True, timeout: float = 60.0, tenant: str | None = None
    ) -> bool:
        """Wait until `plugin_id` is (or, with present=False, is no longer) listed; returns whether it happened."""
        deadline = time.monotonic() + timeout
        while True:
            if (plugin_id in self.plugin_ids(tenant)) == present:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def journal(
        self,
        kind: str | None = None,
        type: str | None = None,
        *,
        plugin_id: str | None = None,
        after_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Journal entries, oldest first, optionally only one `kind` (dispatch/reverse), `type` and plugin, and only
        those after the entry `after_id`."""
        wanted = {"kind": kind, "type": type, "plugin_id": plugin_id}
        params = {name: value for name, value in wanted.items() if value is not None}
        window = {"after_id": after_id} if after_id is not None else {}
        response = self.http.get("/mock/journal", params={**params, **window}, headers=self._headers())
        response.raise_for_status()
        entries = response.json().get("entries", [])
        return [entry for entry in entries if all(entry.get(name) == value for name, value in params.items())]

    def reset(self) -> dict[str, int]:
        """`POST /mock/reset`: removes the rules added over HTTP and puts scenarios back in `started`. Returns
        {"removed_rules", "reset_scenarios", "journal_last_id"}: pass the last as `after_id` to see what follows."""
        response = self.http.post("/mock/reset", headers=self._headers())
        found: dict[str, int] = response.raise_for_status().json()
        return found

    def journal_summary(self, kind: str | None = None, type: str | None = None, **filters: Any) -> dict[str, Any]:
        """Counts of the journal (`GET /mock/journal/summary`): per kind and type, failed, running, and reverse
        calls per answerer and per fixture rule (`["rules"]`). Other filters: plugin_id, session_id, since..."""
        params = {name: value for name, value in {"kind": kind, "type": type, **filters}.items() if value is not None}
        response = self.http.get("/mock/journal/summary", params=params, headers=self._headers())
        summary: dict[str, Any] = response.raise_for_status().json()
        return summary

    def scenarios(self, session_id: str | None = None) -> dict[str, Any]:
        """`GET /mock/scenarios`: {"scenarios": {name: [its states]}, "states": [{session_id, scenario, state}]}
        for each invocation's scenario that has left `started`."""
        params = {"session_id": session_id} if session_id is not None else {}
        response = self.http.get("/mock/scenarios", params=params, headers=self._headers())
        found: dict[str, Any] = response.raise_for_status().json()
        return found

    def reset_scenarios(self, scenario: str | None = None, session_id: str | None = None) -> int:
        """Puts scenarios back in `started` (all, or one, in every invocation or one); how many were reset."""
        wanted = {"scenario": scenario, "session_id": session_id}
        params = {name: value for name, value in wanted.items() if value is not None}
        response = self.http.delete("/mock/scenarios", params=params, headers=self._headers())
        return int(response.raise_for_status().json()["reset"])

    def clear_journal(self) -> None:
        self.http.delete("/mock/journal", headers=self._headers()).raise_for_status()

    def use_cassette(self, name: str) -> str:
        """Replay from and record into the cassette of this name from now on (one per test); its file name."""
        response = self.http.put("/mock/cassette", json={"name": name}, headers=self._headers())
        response.raise_for_status()
        return str(response.json()["cassette"])

    def dispatch(
        self,
        route: str,
        plugin_id: str,
        data: Mapping[str, Any],
        user_id: str = "test-user",
        *,
        tenant: str | None = None,
        extra: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        """POST `/plugin/{tenant}/dispatch/{route}` and return the chunks' `data`.

        `extra` adds top-level body fields (conversation_id, app_id, context...). Raises PluginError when the
        stream ends with an error event and httpx.HTTPStatusError on a non-2xx answer (body already read).
        """
        # Dify always sends credentials; the daemon passes a missing map to the plugin as null, which it refuses.
        body = {"user_id": user_id, **(extra or {}), "data": {"credentials": {}, **data}}
        url = f"/plugin/{tenant or self.tenant}/dispatch/{route.strip('/')}"
        with self.http.stream(
            "POST",
            url,
            json=body,
            headers=self._headers(plugin_id),
            timeout=timeout if timeout is not None else self.request_timeout,
        ) as response:
            if response.is_error:
                response.read()
                raise_plugin_error_from_json(response)
                response.raise_for_status()
            content_type = response.headers.get("content-type", "")
            if not content_type.startswith("text/event-stream"):
                # Polling routes answer one plain JSON envelope rather than a stream.
                response.read()
                return decode_chunks([response.text])
            parser = SSEParser()
            events: list[str] = []
            for text in response.iter_text():
                events += parser.feed(text)
            events += parser.close()
        return decode_chunks(events)

    def invoke_tool(
        self,
        plugin_id: str,
        provider: str,
        tool: str,
        parameters: Mapping[str, Any],
        credentials: Mapping[str, Any] | None = None,
        *,
        credential_type: str = "api-key",
        user_id: str = "test-user",
        tenant: str | None = None,
    ) -> list[dict[str, Any]]:
        data = {
            "provider": provider,
            "tool": tool,
            "tool_parameters": dict(parameters),
            "credentials": dict(credentials or {}),
            "credential_type": credential_type,
        }
        return self.dispatch("tool/invoke", plugin_id, data, user_id, tenant=tenant)

    def validate_tool_credentials(
        self, plugin_id: str, provider: str, credentials: Mapping[str, Any], *, tenant: str | None = None
    ) -> list[dict[str, Any]]:
        data = {"provider": provider, "credentials": dict(credentials)}
        return self.dispatch("tool/validate_credentials", plugin_id, data, tenant=tenant)

    def invoke_agent_strategy(
        self,
        plugin_id: str,
        provider: str,
        strategy: str,
        params: Mapping[str, Any],
        *,
        user_id: str = "test-user",
        tenant: str | None = None,
    ) -> list[dict[str, Any]]:
        data = {
            "agent_strategy_provider": provider,
            "agent_strategy": strategy,
            "agent_strategy_params": dict(params),
        }
        return self.dispatch("agent_strategy/invoke", plugin_id, data, user_id, tenant=tenant)

    # -- plugins ------------------------------------------------------------------------------------------------

    def start_plugin(
        self,
        path: Path,
        python: str | None = None,
        key: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
        *,
        tenant: str | None = None,
    ) -> PluginProcess:
        """Run the plugin at `path` in remote-debug mode against this server and wait until it is listed.

        `python` defaults to $DIFY_MOCK_PLUGIN_PYTHON, then `<path>/.venv/bin/python`, then this interpreter.
        `key` (REMOTE_INSTALL_KEY) defaults to the server's first `--key`, else "dify-mock"; the plugin is awaited
        in `tenant`, by default the tenant that key joins. If a plugin with the
        same id is already listed (e.g. a previous process still being dropped), this returns at once: call
        `wait_for_plugin(plugin_id, present=False)` after stopping the old one.
        """
        plugin = self.launch_plugin(path, python, key, env)
        tenant = tenant or self._tenant_for_key(key or self._default_key())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not plugin.alive():
                plugin.stop()
                hint = ""
                if "No module named 'dify_plugin'" in plugin.output():
                    hint = (
                        f"; its Python ({_plugin_python(plugin.path, python)}) lacks dify-plugin: set "
                        f"${PLUGIN_PYTHON_ENV} to a Python 3.12 that has it"
                    )
                raise RuntimeError(
                    f"plugin {plugin.plugin_id} exited with code {plugin.process.returncode} before registering{hint}; "
                    f"last output ({plugin.output_path}):\n{tail(plugin.output_path)}"
                )
            if plugin.plugin_id in self.plugin_ids(tenant):
                return plugin
            time.sleep(0.05)
        plugin.stop()
        raise TimeoutError(
            f"plugin {plugin.plugin_id} did not register with {self.url} within {timeout} s; "
            f"last output ({plugin.output_path}):\n{tail(plugin.output_path)}"
        )

    def launch_plugin(
        self, path: Path, python: str | None = None, key: str | None = None, env: Mapping[str, str] | None = None
    ) -> PluginProcess:
        """Start the plugin at `path` in remote-debug mode against this server, without waiting for it to register."""
        if not self.running:
            raise RuntimeError("start the mock server before its plugins")
        path = Path(path).resolve()
        manifest = yaml.safe_load((path / "manifest.yaml").read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not manifest.get("author") or not manifest.get("name"):
            raise ValueError(f"{path / 'manifest.yaml'}: needs `author` and `name`")
        plugin_id = f"{manifest['author']}/{manifest['name']}"
        entrypoint = str(((manifest.get("meta") or {}).get("runner") or {}).get("entrypoint") or "main")
        remote_key = key or self._default_key()
        process_env = {
            **os.environ,
            "INSTALL_METHOD": "remote",
            "REMOTE_INSTALL_URL": f"127.0.0.1:{self.debug_port}",
            # dify-plugin before 0.2 ignores REMOTE_INSTALL_URL and reads these two (default localhost:5003)
            "REMOTE_INSTALL_HOST": "127.0.0.1",
            "REMOTE_INSTALL_PORT": str(self.debug_port),
            "REMOTE_INSTALL_KEY": remote_key,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        output_path = self._plugin_output_path(str(manifest["name"]))
        process = spawn(
            [_plugin_python(path, python), "-m", entrypoint], cwd=path, env=process_env, output_path=output_path
        )
        plugin = PluginProcess(plugin_id, process, output_path, path)
        self.plugin_processes.append(plugin)
        return plugin

    def _default_key(self) -> str:
        return self.keys[0].partition("=")[0] if self.keys else DEFAULT_REMOTE_KEY

    def _tenant_for_key(self, key: str) -> str:
        for entry in self.keys:
            name, _, tenant = entry.partition("=")
            if name == key:
                return tenant or DEFAULT_TENANT
        return self.tenant

    def _plugin_output_path(self, name: str) -> Path:
        directory = self.data_dir / "plugins"
        candidate = directory / f"{name}.log"
        counter = 1
        while candidate.exists():
            counter += 1
            candidate = directory / f"{name}-{counter}.log"
        return candidate


def _plugin_python(path: Path, python: str | None) -> str:
    if python:
        return python
    from_env = os.environ.get(PLUGIN_PYTHON_ENV)
    if from_env:
        return from_env
    venv_python = path / ".venv" / "bin" / "python"
    if venv_python.exists():
        return str(venv_python)
    return sys.executable
