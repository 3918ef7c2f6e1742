"""Keeps a plugin process running for `dify-mock run`: starts it, reads its output, reports a crash with its last
output and starts it again with back-off. Stopping kills its whole process group: the SDK does not always exit by
itself (a stdio plugin spins when its stdin closes; a remote one retries its connection forever)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from dify_mock.config.settings import DEFAULT_TENANT
from dify_mock.config.specs import PluginLaunch
from dify_mock.host import Host
from dify_mock.plugins.folder import PluginFolder
from dify_mock.protocol.framing import LineSplitter, LineTooLong
from dify_mock.runtimes.output import ProcessOutput
from dify_mock.runtimes.stdio import LocalPlugin, StdioConnection

log = logging.getLogger("dify_mock.supervisor")

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STABLE_AFTER = 30.0  # seconds up after which a crash starts the back-off from the beginning again
READY_TIMEOUT = 120.0  # the daemon's limit for a local plugin's first heartbeat, and for its silence later
STOP_GRACE = 2.0
STDERR_GATHER = 0.1  # seconds of quiet that end a record of stderr lines
READ_CHUNK = 65536
MAX_TEXT_LINE = 1024 * 1024
REMOTE_KEY = "dify-mock-run"


@dataclass
class Outcome:
    reason: str
    uptime: float
    ready: bool


def launch_tenant(host: Host) -> str:
    """The tenant a launched plugin joins: the first --key's, else the default one."""
    first_key = next(iter(host.settings.keys), None)
    tenant = host.settings.tenant_for_key(first_key) if first_key is not None else None
    return tenant or DEFAULT_TENANT


class PluginSupervisor:
    def __init__(self, host: Host, launch: PluginLaunch, folder: PluginFolder) -> None:
        self.host = host
        self.launch = launch
        self.folder = folder
        self.tenant_id = launch_tenant(host)
        self.output = ProcessOutput(host, self.tenant_id, folder.plugin_id)
        self.process: asyncio.subprocess.Process | None = None
        self.kill_reason: str | None = None
        self.stopping = False
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.remote_seen = False  # the remote runtime's process has registered over TCP
        self.stderr_pending: list[str] = []
        self.stderr_flush: asyncio.TimerHandle | None = None

    @property
    def name(self) -> str:
        return f"{self.folder.plugin_id} ({self.launch.runtime} runtime)"

    def start(self) -> None:
        self.task = asyncio.create_task(self.supervise())

    async def stop(self) -> None:
        self.request_stop("dify-mock is stopping")
        if self.task is not None:
            await self.task

    def request_stop(self, reason: str) -> None:
        if not self.stopping:
            self.stopping = True
            log.info("stopping %s: %s", self.name, reason)
        self.wake.set()
        self.terminate(reason)

    def terminate(self, reason: str) -> None:
        """SIGTERM the process group now, SIGKILL it if the process is still there after a grace period."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        self.kill_reason = self.kill_reason or reason
        _signal_group(process.pid, signal.SIGTERM)
        asyncio.get_running_loop().call_later(STOP_GRACE, self._kill, process)

    def _kill(self, process: asyncio.subprocess.Process) -> None:
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGKILL)

    async def supervise(self) -> None:
        delay = FIRST_BACKOFF
        while not self.stopping:
            try:
                outcome = await self.run_once()
            except OSError as error:
                outcome = Outcome(f"could not be started with {self.launch.python}: {error}", 0.0, False)
            if self.stopping:
                break
            if outcome.ready and outcome.uptime >= STABLE_AFTER:
                delay = FIRST_BACKOFF
            self.report_crash(outcome, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), delay)
            delay = min(delay * 2, MAX_BACKOFF)
        self.output.flush()

    def report_crash(self, outcome: Outcome, delay: float) -> None:
        when = "while running" if outcome.ready else "before it was ready"
        message = (
            f"plugin {self.name} {outcome.reason} {when}, {outcome.uptime:.1f} s after it started; "
            f"its last output:\n{self.output.tail(12)}\nstarting it again in {delay:g} s"
        )
        log.error("%s", message)
        entry = self.host.journal.start(
            "runtime",
            "crash",
            self.tenant_id,
            self.folder.plugin_id,
            "",
            {
                "runtime": self.launch.runtime,
                "source": self.launch.source or str(self.folder.root),
                "uptime_s": round(outcome.uptime, 3),
                "was_ready": outcome.ready,
                "last_output": list(self.output.last),
                "restart_in_s": delay,
            },
        )
        self.host.journal.finish(entry, answered_by="supervisor", error=outcome.reason)

    async def run_once(self) -> Outcome:
        local = self.launch.runtime == "local"
        self.kill_reason = None
        self.remote_seen = False
        process = await asyncio.create_subprocess_exec(
            self.launch.python,
            "-m",
            self.folder.entrypoint,
            cwd=self.folder.root,
            env=self.environment(),
            stdin=asyncio.subprocess.PIPE if local else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=DIE_WITH_PARENT,
        )
        self.process = process
        started = time.monotonic()
        log.info("started %s from %s, pid %d", self.name, self.launch.source or self.folder.root, process.pid)
        plugin: LocalPlugin | None = None
        if local:
            connection = StdioConnection(
                process,
                self.folder.plugin_id,
                self.request_stop,
                max_outgoing_bytes=self.host.settings.max_outgoing_bytes,
                on_stuck=self.terminate,
            )
            plugin = LocalPlugin(self.host, self.folder, self.tenant_id, connection, self.output)
            on_stdout: Callable[[bytes], None] = plugin.stdout_line
            stdout_limit = self.host.settings.max_line_bytes
        else:
            on_stdout, stdout_limit = self.remote_stdout_line, MAX_TEXT_LINE
        readers = [
            asyncio.create_task(self.pump(process.stdout, on_stdout, stdout_limit, on_too_long=self.stdout_too_long)),
            asyncio.create_task(self.pump(process.stderr, None, MAX_TEXT_LINE, self.stderr_lines)),
        ]
        watcher = asyncio.create_task(self.watch(process, plugin, started))
        code = await process.wait()
        uptime = time.monotonic() - started
        _signal_group(process.pid, signal.SIGKILL)  # whatever the plugin left behind in its group
        await asyncio.wait(readers, timeout=STOP_GRACE)
        for task in (*readers, watcher):
            task.cancel()
        self.flush_stderr()
        ready = plugin.ready if plugin is not None else self.remote_seen
        reason = self.kill_reason or f"exited with code {code}"
        if plugin is not None:
            plugin.closed(f"the plugin process {reason}")
        self.output.flush()
        self.process = None
        return Outcome(reason, uptime, ready)

    def environment(self) -> dict[str, str]:
        settings = self.host.settings
        env = {name: value for name, value in os.environ.items() if not name.startswith("DIFY_MOCK_")}
        env["PYTHONUNBUFFERED"] = "1"
        env["INSTALL_METHOD"] = self.launch.runtime
        if self.launch.runtime == "remote":
            host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
            env["REMOTE_INSTALL_URL"] = f"{host}:{settings.debug_port}"
            env["REMOTE_INSTALL_KEY"] = next(iter(settings.keys), REMOTE_KEY)
        return env

    async def watch(self, process: asyncio.subprocess.Process, plugin: LocalPlugin | None, started: float) -> None:
        """Kills a local plugin that never says it is ready, or falls silent, as the daemon does."""
        while process.returncode is None:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            if plugin is None:
                runtime = self.host.registry.get(self.tenant_id, self.folder.plugin_id)
                if not self.remote_seen and runtime is not None and runtime.connection.kind == "tcp":
                    self.remote_seen = True
                    log.info("plugin %s is running (remote runtime, pid %d)", self.folder.plugin_id, process.pid)
            elif not plugin.ready and now - started > READY_TIMEOUT:
                self.terminate(f"sent no heartbeat within {READY_TIMEOUT:g} s of starting, so it was killed")
            elif plugin.ready and now - plugin.runtime.last_seen > READY_TIMEOUT:
                self.terminate(f"sent nothing for {READY_TIMEOUT:g} s (no heartbeat), so it was killed")

    async def pump(
        self,
        stream: asyncio.StreamReader | None,
        on_line: Callable[[bytes], None] | None,
        max_line_bytes: int,
        on_lines: Callable[[list[bytes]], None] | None = None,
        on_too_long: Callable[[LineTooLong], None] | None = None,
    ) -> None:
        """Reads a pipe to its end, handing on each line, or the lines of each read together."""
        if stream is None:
            return
        splitter = LineSplitter(max_line_bytes)
        while True:
            data = await stream.read(READ_CHUNK)
            lines, errors = splitter.feed(data or b"\n")  # at the end, a last line without its newline
            for error in errors:
                (on_too_long or self.too_long)(error)
            if on_lines is not None and lines:
                try:
                    on_lines(lines)
                except Exception:
                    log.exception("%s: could not handle its output; skipped it", self.name)
            if on_line is not None:
                for line in lines:
                    try:
                        on_line(line)
                    except Exception:
                        log.exception("%s: could not handle a line of its output; skipped it", self.name)
            if not data:
                return

    def too_long(self, error: LineTooLong) -> None:
        self.output.line("WARNING", f"dify-mock dropped a line of its output: {error}", "dify-mock")

    def stdout_too_long(self, error: LineTooLong) -> None:
        """As the daemon: its stdout reader ends at a line over PLUGIN_RUNTIME_MAX_BUFFER_SIZE ("bufio.Scanner: token
        too long"), and the instance with it. The process is stopped (and restarted as any that stops)."""
        self.too_long(error)
        if self.launch.runtime == "local":
            self.terminate(
                f"wrote a stdout line over --max-line-bytes, which ends the daemon's reading of it ({error})"
            )

    def stderr_lines(self, lines: list[bytes]) -> None:
        """Held for a moment, so that a traceback written line by line is logged as one record."""
        self.stderr_pending += [line.decode("utf-8", "replace") for line in lines]
        if self.stderr_flush is None:
            self.stderr_flush = asyncio.get_running_loop().call_later(STDERR_GATHER, self.flush_stderr)

    def flush_stderr(self) -> None:
        if self.stderr_flush is not None:
            self.stderr_flush.cancel()
            self.stderr_flush = None
        pending, self.stderr_pending = self.stderr_pending, []
        if pending:
            self.output.lines("WARNING", pending, "stderr")

    def remote_stdout_line(self, line: bytes) -> None:
        """Over TCP the SDK still writes its log records to stdout, as JSON `log` events."""
        text = line.decode("utf-8", "replace")
        with contextlib.suppress(ValueError):
            event = json.loads(text)
            if isinstance(event, dict) and event.get("event") == "log" and isinstance(event.get("data"), dict):
                data = event["data"]
                self.output.line(str(data.get("level") or "INFO"), str(data.get("message")), "log event")
                return
        self.output.line("INFO", text, "stdout")


def _signal_group(pid: int, signum: signal.Signals) -> None:
    # Each plugin runs in a session of its own, so its pid is its process group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)


def _death_signal() -> Callable[[], None] | None:
    """On Linux, the plugin gets SIGKILL when the mock dies, even by SIGKILL: no plugin outlives its mock."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    set_death_signal = 1  # PR_SET_PDEATHSIG

    def arm() -> None:
        prctl(set_death_signal, signal.SIGKILL)

    return arm


DIE_WITH_PARENT = _death_signal()
