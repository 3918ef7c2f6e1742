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
from dify_mock.runtimes.plugin_log import LogLimiter

log = logging.getLogger("dify_mock.plugin")
LogSink = Callable[[str, str], None]  # (level, message) of a plugin's log event


SESSION_NOT_FOUND = "session not found (its request has finished, or it is not this plugin's session)"


def journal_refusal(host: Host, runtime: PluginRuntime, session_id: str, type: str, request: Any, error: str) -> None:
    """A refused call, journalled under its caller (not under the session's owner): `answered_by` is `refused`."""
    entry = host.journal.start("reverse", type, runtime.tenant_id, runtime.plugin_id, session_id, request)
    host.journal.finish(entry, answered_by="refused", error=error)


def refuse_foreign_session(host: Host, runtime: PluginRuntime, session_id: str, kind: str, data: Any) -> None:
    """A plugin wrote a `stream`, `error` or `end` into a session another connection owns: dropped, journalled."""
    text = f"session {session_id} is not open on this connection: {SESSION_NOT_FOUND}; its {kind} was dropped"
    log.warning("plugin %s wrote into a session it does not own: %s", runtime.plugin_id, text)
    journal_refusal(host, runtime, session_id, f"session_{kind}", data, text)


class PluginEvents:
    """Routes the events of one registered plugin connection."""

    def __init__(self, host: Host, runtime: PluginRuntime, on_log: LogSink | None = None) -> None:
        self.host = host
        self.runtime = runtime
        self.on_log = on_log
        self.log_limiter = LogLimiter(host, runtime.tenant_id, runtime.plugin_id) if on_log is None else None
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
                elif self.log_limiter is not None:
                    self.log_limiter.lines(level, [message], "log event")
        except ProtocolError as error:
            log.warning(
                "plugin %s sent a line that is not a valid message (%s): %.200r", runtime.plugin_id, error, line
            )

    def session_message(self, session_id: str, message: SessionMessage) -> None:
        # Only the sessions this connection was given: another plugin's session id (seen in the journal, say) is
        # refused as if it did not exist, as the daemon listens for a session on its own runtime only.
        session = self.runtime.sessions.get(session_id)
        if message.type == "invoke":
            self.backwards(session_id, session, message.data)
        elif session is not None:
            session.events.put_nowait(message)
        elif self.host.registry.session(session_id) is not None:
            refuse_foreign_session(self.host, self.runtime, session_id, message.type, message.data)
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
            text = f"session {session_id} is not open on this connection: {SESSION_NOT_FOUND}"
            journal_refusal(self.host, self.runtime, session_id, invoke.type, invoke.request, text)
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
