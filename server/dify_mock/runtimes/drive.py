"""Host -> plugin: send a request into a new session and stream back what the plugin answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

from dify_mock.host import Host
from dify_mock.plugins.registry import SessionClosed
from dify_mock.protocol.chunks import as_relayed_chunk
from dify_mock.protocol.messages import host_envelope, plugin_error_text


class PluginNotFound(LookupError):
    """No plugin with that id is connected for the tenant."""


class PluginInvokeError(Exception):
    """The plugin answered with an error: `error` is its {error_type, message, args}."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(plugin_error_text(error))
        self.error = error


class InvokeTimeout(Exception):
    """The plugin did not finish in time."""


async def invoke_plugin(
    host: Host,
    tenant_id: str,
    plugin_id: str,
    access_type: str,
    action: str,
    data: dict[str, Any],
    user_id: str,
    fields: dict[str, Any] | None = None,
    journal_request: Any = None,
) -> AsyncGenerator[Any, None]:
    """Yields each `stream` chunk; raises PluginInvokeError, InvokeTimeout or PluginNotFound.

    `journal_request` is what the journal shows instead of the payload (endpoints show the request readable).
    """
    runtime = host.registry.get(tenant_id, plugin_id)
    if runtime is None:
        raise PluginNotFound(f"plugin {plugin_id} is not connected for tenant {tenant_id}")
    fields = fields or {}
    session = host.registry.open_session(runtime, access_type, action, user_id, fields)
    payload = {**data, "user_id": user_id, "type": access_type, "action": action}
    shown = payload if journal_request is None else journal_request
    entry = host.journal.start("dispatch", action, tenant_id, plugin_id, session.session_id, shown)
    error: str | None = None
    ended_at: float | None = None
    # One timer per call puts this marker in the session's inbox (a timeout per awaited chunk costs a timer each).
    expired = SessionClosed(
        "InvokeTimeout",
        f"killed by timeout; the plugin did not finish within --invoke-timeout {host.settings.invoke_timeout:g} s",
    )
    timer = asyncio.get_running_loop().call_later(host.settings.invoke_timeout, session.events.put_nowait, expired)
    try:
        runtime.connection.send(host_envelope(session.session_id, "request", payload, fields))
        while True:
            event = await session.events.get()
            if event is expired:
                raise InvokeTimeout(expired.message)
            if isinstance(event, SessionClosed):
                raise PluginInvokeError({"error_type": event.error_type, "message": event.message, "args": {}})
            if event.type == "stream":
                refused, chunk = as_relayed_chunk(action, event.data)
                if refused is not None:
                    raise PluginInvokeError(refused)
                entry.add_chunk(chunk)
                yield chunk
            elif event.type == "error":
                raise PluginInvokeError(event.data if isinstance(event.data, dict) else {"message": str(event.data)})
            elif event.type == "end":
                ended_at = session.events.last_arrival
                return
    except (PluginInvokeError, InvokeTimeout) as failure:
        error = str(failure)
        raise
    finally:
        timer.cancel()
        host.registry.close_session(session)
        host.journal.finish(entry, answered_by="plugin", error=error, ended_at=ended_at)
