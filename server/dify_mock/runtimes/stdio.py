"""The local runtime, as the daemon runs installed plugins: a child process spoken to over stdin and stdout.

The SDK writes its manifest as the first stdout line, then events (logs, heartbeats, sessions), each followed by
`\\n\\n`; the host writes one request envelope a line to stdin. There is no declaration phase: the declarations come
from the plugin folder (`runtimes/declarations.py`). The first heartbeat means the plugin is ready.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from dify_mock.host import Host
from dify_mock.plugins.folder import PluginFolder
from dify_mock.plugins.registry import PluginRuntime
from dify_mock.protocol.framing import json_line
from dify_mock.runtimes.events import PluginEvents
from dify_mock.runtimes.offer import offer, sdk_release
from dify_mock.runtimes.output import ProcessOutput

log = logging.getLogger("dify_mock.stdio")


class StdioConnection:
    """Writes to one plugin process's stdin; closing it stops the process for good."""

    kind = "stdio"

    def __init__(
        self,
        process: asyncio.subprocess.Process,
        plugin_id: str,
        on_close: Callable[[str], None],
        *,
        max_outgoing_bytes: int,
        on_stuck: Callable[[str], None],
    ) -> None:
        self.process = process
        self.plugin_id = plugin_id
        self.on_close = on_close
        self.max_outgoing_bytes = max_outgoing_bytes
        self.on_stuck = on_stuck
        self.closed = False

    def send(self, message: dict[str, Any]) -> None:
        stdin = self.process.stdin
        if self.closed or stdin is None or stdin.is_closing() or self.process.returncode is not None:
            raise ConnectionError(f"the process of {self.plugin_id} has exited")
        stdin.write(json_line(message))
        unread = stdin.transport.get_write_buffer_size()
        if unread > self.max_outgoing_bytes:
            reason = f"it left {unread} bytes of its stdin unread, over --max-outgoing-bytes {self.max_outgoing_bytes}"
            log.warning("killing the process of %s: %s", self.plugin_id, reason)
            self.on_stuck(reason)  # the process goes, and with it the bytes it would not read; it is started again
            raise ConnectionError(f"the process of {self.plugin_id} does not read its stdin")

    def close(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.on_close(reason)


class LocalPlugin:
    """Reads one local-runtime process's stdout the way the daemon does, and registers it once it is ready."""

    def __init__(
        self,
        host: Host,
        folder: PluginFolder,
        tenant_id: str,
        connection: StdioConnection,
        output: ProcessOutput,
    ) -> None:
        self.host = host
        self.folder = folder
        self.connection = connection
        self.output = output
        self.runtime = PluginRuntime(
            tenant_id=tenant_id,
            manifest=folder.manifest,
            declarations=folder.declarations,
            assets=folder.assets,
            connection=connection,
            every_tenant=not host.settings.keys,
        )
        self.events = PluginEvents(host, self.runtime, on_log=self.logged)
        self.ready = False

    def logged(self, level: str, message: str) -> None:
        self.output.line(level, message, "log event")

    def stdout_line(self, line: bytes) -> None:
        if not line.lstrip().startswith(b"{"):
            self.output.line("INFO", line.decode("utf-8", "replace"), "stdout")
        elif self.ready:
            self.events.line(line)
        else:
            self._before_ready(line)

    def _before_ready(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            self.output.line("INFO", line.decode("utf-8", "replace"), "stdout")
            return
        if not isinstance(message, dict):
            return
        if "event" not in message and "name" in message:
            self._check_manifest(message)
        elif message.get("event") == "heartbeat":
            self.runtime.last_seen = time.monotonic()
            self.ready = True
            self.host.registry.register(self.runtime)
            log.info(
                "plugin %s (dify-plugin %s) is running (local runtime, pid %s) for tenant %s: %s",
                self.runtime.plugin_id,
                sdk_release(self.host, self.runtime.plugin_id) or "release unknown",
                self.connection.process.pid,
                self.runtime.tenant_id,
                offer(self.runtime),
            )
        else:
            self.events.line(line)

    def _check_manifest(self, reported: dict[str, Any]) -> None:
        """The SDK's first line is its manifest: it should be what dify-mock read from the folder."""
        if reported != self.folder.manifest:
            expected = self.folder.manifest
            differing = sorted(key for key in {*reported, *expected} if reported.get(key) != expected.get(key))
            log.warning(
                "plugin %s reports a manifest that differs from what dify-mock read in %s (keys: %s)",
                self.runtime.plugin_id,
                self.folder.root,
                ", ".join(differing),
            )

    def closed(self, reason: str) -> None:
        if self.ready:
            self.ready = False
            self.host.registry.unregister(self.runtime, reason)
