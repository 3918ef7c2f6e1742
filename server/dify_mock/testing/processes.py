"""Processes the client starts (the mock, plugins): each in its own session, killed with its group, never left
behind when the test run ends; and `PluginProcess`, a real plugin started against the mock."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

_live_lock = threading.Lock()
_live: dict[int, subprocess.Popen[bytes]] = {}


def track(process: subprocess.Popen[bytes]) -> None:
    with _live_lock:
        _live[process.pid] = process


def untrack(process: subprocess.Popen[bytes]) -> None:
    with _live_lock:
        _live.pop(process.pid, None)


def signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # Every child runs in its own session, so its pid is its process group id.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def terminate(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group, then SIGKILL it if the leader is still there after `grace` seconds."""
    if process.poll() is None:
        signal_group(process, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
        # Also reaches children the leader left behind in its group.
        signal_group(process, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
    untrack(process)


@atexit.register
def kill_leftovers() -> None:
    with _live_lock:
        processes = list(_live.values())
        _live.clear()
    for process in processes:
        if process.poll() is None:
            signal_group(process, signal.SIGKILL)


def spawn(
    args: Sequence[str], *, cwd: Path | None, env: Mapping[str, str], output_path: Path
) -> subprocess.Popen[bytes]:
    output_path.parent.mkdir(parents=True, exist_ok=True)
    with output_path.open("ab") as output:
        process = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    track(process)
    return process


def tail(path: Path, lines: int = 40) -> str:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            return "".join(deque(handle, maxlen=lines))
    except FileNotFoundError:
        return ""


def free_ports(count: int) -> list[int]:
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class PluginProcess:
    """A real plugin running in remote-debug mode against a MockServer."""

    def __init__(self, plugin_id: str, process: subprocess.Popen[bytes], output_path: Path, path: Path) -> None:
        self.plugin_id = plugin_id
        self.process = process
        self.output_path = output_path
        self.path = path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        """Everything the plugin wrote to stdout and stderr so far."""
        try:
            return self.output_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_output(self, text: str, timeout: float = 60.0) -> str:
        """Wait until the plugin has written `text`; returns its output, or raises TimeoutError with its tail."""
        deadline = time.monotonic() + timeout
        while text not in (output := self.output()):
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{self.plugin_id} did not write {text!r} within {timeout} s; its end:\n{output[-3000:]}"
                )
            time.sleep(0.05)
        return output

    def stop(self, grace: float = 2.0) -> None:
        """Kill the plugin's process group. The SDK may never exit by itself (it reconnects forever)."""
        terminate(self.process, grace)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"PluginProcess({self.plugin_id!r}, pid={self.process.pid}, alive={self.alive()})"
