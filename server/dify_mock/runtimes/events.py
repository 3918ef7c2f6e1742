"""What a registered full-duplex plugin (TCP, stdio) sends: session messages go to their sessions, reverse calls to
the answer chain with the answers written back on the same connection, log lines to the mock's log and journal."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from dify_mock.host import Host
from dify_mock.plugins.registry import PluginRuntime, Session
from dify_mock.protocol.messages import (
    BackwardsInvoke,
    ProtocolError,
    SessionMessage,
    backwards_response,
    host_envelope,
    parse_backwards_invoke,
    parse_plugin_event,
    parse_session_message,
)
from dify_mock.reverse.service import answer_backwards

log = logging.getLogger("dify_mock.plugin")
LogSink = Callable[[str, str], None]  # (level, message) of a plugin's log event
LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


def record_plugin_log(host: Host, tenant_id: str, plugin_id: str, level: str, message: str, source: str) -> None:
    """One line the plugin logged or printed: into the mock's log and its journal (kind `log`)."""
    level = level.upper() if level.upper() in LEVELS else "INFO"
    log.log(LEVELS[level], "[%s] %s", plugin_id, message)
    entry = host.journal.start("log", level.lower(), tenant_id, plugin_id, "", {"message": message, "source": source})
    host.journal.finish(entry, answered_by="plugin")


class PluginEvents:
    """Routes the events of one registered plugin connection."""

    def __init__(self, host: Host, runtime: PluginRuntime, on_log: LogSink | None = None) -> None:
        self.host = host
        self.runtime = runtime
        self.on_log = on_log
        self.tasks: set[asyncio.Task[None]] = set()

    def line(self, line: bytes) -> None:
        runtime = self.runtime
        runtime.last_seen = time.monotonic()
        try:
            event = parse_plugin_event(line)
            if event.event == "session":
                assert event.session_id is not None
                self.session_message(event.session_id, parse_session_message(event.data))
            elif event.event == "error":
                log.warning("plugin %s reported an error: %s", runtime.plugin_id, event.data)
            elif event.event == "log" and isinstance(event.data, dict):
                level = str(event.data.get("level") or "INFO")
                message = str(event.data.get("message"))
                if self.on_log is not None:
                    self.on_log(level, message)
                else:
                    record_plugin_log(self.host, runtime.tenant_id, runtime.plugin_id, level, message, "log event")
        except ProtocolError as error:
            log.warning(
                "plugin %s sent a line that is not a valid message (%s): %.200r", runtime.plugin_id, error, line
            )

    def session_message(self, session_id: str, message: SessionMessage) -> None:
        session = self.host.registry.session(session_id)
        if message.type == "invoke":
            self.backwards(session_id, session, message.data)
        elif session is not None:
            session.events.put_nowait(message)
        elif message.type != "end":
            log.debug("plugin %s wrote to a closed session %s", self.runtime.plugin_id, session_id)

    def backwards(self, session_id: str, session: Session | None, data: Any) -> None:
        try:
            invoke = parse_backwards_invoke(data)
        except ProtocolError as error:
            if session is not None:
                session.events.put_nowait(
                    SessionMessage("error", {"error_type": "InvokeDifyError", "message": str(error), "args": {}})
                )
            return
        if session is None:
            text = f"session {session_id} is not open: the request it belonged to has finished"
            for event, message in (("error", text), ("end", "")):
                response = backwards_response(invoke.backwards_request_id, event, message)
                self.runtime.connection.send(host_envelope(session_id, "backwards_response", response))
            return
        task = asyncio.create_task(self.serve_backwards(session, invoke))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def serve_backwards(self, session: Session, invoke: BackwardsInvoke) -> None:
        connected = True  # after a disconnect the call still runs to its end, so its journal entry is complete
        async for data in answer_backwards(self.host, session, invoke):
            if connected:
                envelope = host_envelope(session.session_id, "backwards_response", data, session.fields)
                try:
                    self.runtime.connection.send(envelope)
                except ConnectionError:
                    connected = False
