"""A minimal stdio reference host: the plugin as the daemon's local runtime starts it, spoken to over its pipes.

It spawns `python -m main` in the plugin folder with INSTALL_METHOD=local. The SDK's first stdout line is its bare
manifest, then come `log` events and the first `heartbeat`, which means ready; every event ends with `\\n\\n`. The
host writes one request envelope a line to stdin. Requests and reverse calls are answered by the TCP reference
host's own code (`hosts.ReferenceHost`); only the pipes differ.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, cast

from bench.hosts import ReferenceHost, envelope_line


class StdioReferenceHost(ReferenceHost, asyncio.SubprocessProtocol):
    def __init__(self, stream_chunks: int) -> None:
        super().__init__(tuned=True, key="", stream_chunks=stream_chunks)
        self.stdin: asyncio.WriteTransport | None = None
        self.process: asyncio.SubprocessTransport | None = None
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.buffer = b""
        self.manifest: dict[str, Any] | None = None

    async def spawn(self, plugin_dir: Path, python: str, log: Path) -> None:
        """Start the plugin; `plugin_id` resolves with its author/name at its first heartbeat."""
        env = {name: value for name, value in os.environ.items() if not name.startswith(("DIFY_MOCK_", "REMOTE_"))}
        env |= {"INSTALL_METHOD": "local", "PYTHONUNBUFFERED": "1"}  # as dify-mock's local runtime sets them
        with log.open("wb") as stderr:
            transport, _ = await asyncio.get_running_loop().subprocess_exec(
                lambda: self,
                python,
                "-m",
                "main",
                cwd=plugin_dir,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
        self.process = transport
        self.stdin = cast(asyncio.WriteTransport, transport.get_pipe_transport(0))

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        now = time.perf_counter()
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        for line in lines:
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except ValueError:
                continue  # text a plugin prints is no event
            if not isinstance(message, dict):
                continue
            event = message.get("event")
            if event is None and self.manifest is None:
                self.manifest = message
            elif event == "heartbeat" and self.manifest is not None and not self.plugin_id.done():
                self.plugin_id.set_result(f"{self.manifest.get('author')}/{self.manifest.get('name')}")
            elif event == "session":
                self._on_session(message["session_id"], message["data"]["type"], message["data"]["data"], now)

    def process_exited(self) -> None:
        error = ConnectionError("the plugin process exited")
        self.fail_calls(error)
        if not self.plugin_id.done():
            self.plugin_id.set_exception(error)
        if not self.exited.done():
            self.exited.set_result(None)

    def _send(self, session_id: str, event: str, data: dict[str, Any]) -> None:
        assert self.stdin is not None
        self.stdin.write(envelope_line(session_id, event, data))

    async def close(self) -> None:
        """Kill the plugin's process group: the SDK spins on a closed stdin rather than exit."""
        if self.process is None:
            return
        pid = self.process.get_pid()
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signum)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.exited), 0.5)
        self.process.close()
