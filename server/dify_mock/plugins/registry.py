"""Connected plugins and their open sessions, whatever transport brought them."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from dify_mock.protocol.messages import SessionMessage, dumps

log = logging.getLogger("dify_mock.registry")


class Connection(Protocol):
    """How the host writes to one plugin process."""

    kind: str  # tcp, stdio or serverless

    def send(self, message: dict[str, Any]) -> None: ...

    def close(self, reason: str) -> None: ...


class SessionClosed(Exception):
    """The plugin went away while a session was open."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass(eq=False)
class PluginRuntime:
    tenant_id: str
    manifest: dict[str, Any]
    declarations: dict[str, list[dict[str, Any]]]
    assets: dict[str, bytes]
    connection: Connection
    connected_at: float = field(default_factory=time.time)
    last_seen: float = field(default_factory=time.monotonic)
    sessions: dict[str, Session] = field(default_factory=dict)
    # A plugin the mock started itself with no --key to name a tenant answers every tenant, as an installed plugin
    # answers the tenant Dify dispatches for: Dify's workspace ids are its own.
    every_tenant: bool = False

    @property
    def plugin_id(self) -> str:
        return f"{self.manifest['author']}/{self.manifest['name']}"

    @property
    def identity(self) -> str:
        """`author/name:version@checksum`; the checksum depends only on the declaration and tenant."""
        declaration = {"manifest": self.manifest, **self.declarations}
        checksum = hashlib.sha256((dumps(declaration) + self.tenant_id).encode()).hexdigest()
        return f"{self.plugin_id}:{self.manifest.get('version', '0.0.0')}@{checksum}"

    def describe(self) -> dict[str, Any]:
        return {
            "plugin_id": self.plugin_id,
            "identity": self.identity,
            "tenant_id": self.tenant_id,
            "transport": self.connection.kind,
            "connected_at": self.connected_at,
            "declaration": {"manifest": self.manifest, **self.declarations},
            "assets": sorted(self.assets),
        }


class SessionEvents(asyncio.Queue["SessionMessage | SessionClosed"]):
    """A session's inbox; remembers when the newest message arrived, so timings end at the wire, not at the reader."""

    last_arrival: float = 0.0

    def put_nowait(self, item: SessionMessage | SessionClosed) -> None:
        self.last_arrival = time.perf_counter()
        super().put_nowait(item)


@dataclass(eq=False)
class Session:
    session_id: str
    runtime: PluginRuntime
    access_type: str
    action: str
    user_id: str
    fields: dict[str, Any]
    events: SessionEvents = field(default_factory=SessionEvents)
    # A caller that is not a registered plugin (a daemon on the inner API) says here whether it has gone away.
    caller_gone: Callable[[], Awaitable[bool]] | None = None


RegistryListener = Callable[[str, PluginRuntime], None]


class Registry:
    def __init__(self) -> None:
        self._runtimes: dict[tuple[str, str], PluginRuntime] = {}
        self._sessions: dict[str, Session] = {}
        self.listeners: list[RegistryListener] = []

    def register(self, runtime: PluginRuntime) -> None:
        key = (runtime.tenant_id, runtime.plugin_id)
        previous = self._runtimes.get(key)
        self._runtimes[key] = runtime
        if previous is not None and previous is not runtime:
            log.info("%s reconnected; closing its previous connection", runtime.plugin_id)
            self._fail_sessions(previous, "ConnectionClosedError", "the plugin reconnected on a new connection")
            previous.connection.close("replaced by a new connection")
        self._notify("connected", runtime)

    def unregister(self, runtime: PluginRuntime, reason: str) -> None:
        key = (runtime.tenant_id, runtime.plugin_id)
        if self._runtimes.get(key) is runtime:
            del self._runtimes[key]
            self._notify("disconnected", runtime)
        self._fail_sessions(runtime, "ConnectionClosedError", reason)

    def get(self, tenant_id: str, plugin_id: str) -> PluginRuntime | None:
        found = self._runtimes.get((tenant_id, plugin_id))
        if found is None:
            found = next((rt for (_, pid), rt in self._runtimes.items() if pid == plugin_id and rt.every_tenant), None)
        return found

    def runtimes(self, tenant_id: str | None = None) -> list[PluginRuntime]:
        return [
            rt
            for (tenant, _), rt in self._runtimes.items()
            if tenant_id is None or tenant == tenant_id or rt.every_tenant
        ]

    def open_session(
        self, runtime: PluginRuntime, access_type: str, action: str, user_id: str, fields: dict[str, Any]
    ) -> Session:
        session = Session(str(uuid.uuid4()), runtime, access_type, action, user_id, fields)
        self._sessions[session.session_id] = session
        runtime.sessions[session.session_id] = session
        return session

    def close_session(self, session: Session) -> None:
        self._sessions.pop(session.session_id, None)
        session.runtime.sessions.pop(session.session_id, None)

    def session(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def _fail_sessions(self, runtime: PluginRuntime, error_type: str, message: str) -> None:
        for session in list(runtime.sessions.values()):
            session.events.put_nowait(SessionClosed(error_type, message))

    def _notify(self, event: str, runtime: PluginRuntime) -> None:
        for listener in self.listeners:
            try:
                listener(event, runtime)
            except Exception:
                log.exception("registry listener failed")
