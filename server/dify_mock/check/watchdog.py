"""No orphans: a process of its own that cleans up after `dify-mock check`, however the check ends.

The check starts it first, in a session of its own, and keeps a pipe to its stdin. Everything the check starts
(the mock, the plugin, whatever the plugin forks) inherits `TOKEN_VARIABLE` in its environment. When the pipe
closes (the check returned, or died by any signal, SIGKILL included), the watchdog stops every process that carries
the token (SIGSTOP until none is left running, so a forking child cannot outrun it, then SIGKILL) and removes the
folders the check named on the pipe. Linux's /proc tells it the environments; elsewhere it only removes folders.

    python -m dify_mock.check.watchdog TOKEN     # reads one folder per line on stdin until EOF
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Self

TOKEN_VARIABLE = "DIFYMOCK_CHECK_RUN"  # not DIFY_MOCK_*: the mock passes those on to no child
ROUNDS = 50


class Watchdog:
    def __init__(self) -> None:
        self.token = secrets.token_hex(12)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dify_mock.check.watchdog", self.token],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C on the terminal reaches the check, not its watchdog
        )

    def environment(self) -> dict[str, str]:
        """For every process the check starts."""
        return {TOKEN_VARIABLE: self.token}

    def remove_later(self, folder: Path) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{folder}\n".encode())
        self.process.stdin.flush()

    def close(self, timeout: float = 60.0) -> None:
        """Let it clean up now and wait until it has."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def marked_processes(token: str) -> list[int]:
    """The processes whose environment carries the token (this one excepted)."""
    marker = f"{TOKEN_VARIABLE}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def stop_marked(token: str) -> int:
    """SIGSTOP every marked process until a scan finds no new one, then SIGKILL them all; how many there were."""
    stopped: set[int] = set()
    for _ in range(ROUNDS):
        fresh = [pid for pid in marked_processes(token) if pid not in stopped]
        if not fresh:
            break
        for pid in fresh:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP)
            stopped.add(pid)
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(stopped)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C is the check's to handle
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    token = argv[0]
    folders = [line.strip() for line in sys.stdin if line.strip()]  # until the check closes the pipe or dies
    stop_marked(token)
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
