"""Two tiny reference hosts that speak just enough remote-debug protocol to time tool calls.

`naive` leaves the kernel's socket defaults alone (asyncio turns TCP_NODELAY on for every TCP transport, so this
host turns it back off). `tuned` sets TCP_NODELAY on the accepted socket and re-arms TCP_QUICKACK after every read,
because the kernel clears it again once it has sent an immediate ACK.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
ANSWER = "This canned answer comes from the bench reference host."


@dataclass
class ToolCall:
    done: asyncio.Future[float]  # resolves to the perf_counter() at which `end` was parsed
    chunks: list[Any] = field(default_factory=list)
    error: Any = None
    on_chunk: Callable[[Any], None] | None = None  # hears each chunk as it is parsed (the HTTP bridge streams it)


class Connection(asyncio.Protocol):
    """One accepted socket. Every line goes to the host, which decides whether this connection counts."""

    def __init__(self, host: ReferenceHost) -> None:
        self.host = host
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.state = "handshake"  # handshake -> declaring -> ready, or ignored (wrong key: kept open, idle)
        self.manifest: dict[str, Any] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 if self.host.tuned else 0)
        self._quickack()

    def _quickack(self) -> None:
        if self.host.tuned and QUICKACK is not None and self.transport is not None:
            self.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)

    def data_received(self, data: bytes) -> None:
        self._quickack()  # the kernel clears it after each immediate ACK
        now = time.perf_counter()
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        for line in lines:
            if line.strip() and self.state != "ignored":
                try:
                    message = json.loads(line)
                except ValueError:
                    continue  # a reference host just skips what it cannot parse
                self.host.on_message(self, message, now)

    def connection_lost(self, exc: Exception | None) -> None:
        self.host.on_connection_lost(self)


class ReferenceHost:
    """Waits for the plugin that shows `key`, then sends it requests one at a time.

    Other connections (say, another test's plugin retrying a port that is now ours) are kept open and ignored.
    """

    def __init__(self, tuned: bool, key: str, stream_chunks: int = 10) -> None:
        self.tuned = tuned
        self.key = key
        self.stream_chunks = max(stream_chunks, 1)  # streamed LLM answers: content chunks plus the closing one
        self.plugin_id: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.active: Connection | None = None
        self.connections: list[Connection] = []
        self.calls: dict[str, ToolCall] = {}
        self.server: asyncio.Server | None = None

    async def start(self, port: int = 0) -> int:
        """Listen on loopback; port 0 lets the kernel choose. Returns the port."""

        def accept() -> Connection:
            self.connections.append(Connection(self))
            return self.connections[-1]

        self.server = await asyncio.get_running_loop().create_server(accept, "127.0.0.1", port)
        bound: int = self.server.sockets[0].getsockname()[1]
        return bound

    async def close(self) -> None:
        for connection in self.connections:
            if connection.transport is not None:
                connection.transport.abort()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def fail_calls(self, error: Exception) -> None:
        for call in self.calls.values():
            if not call.done.done():
                call.done.set_exception(error)

    def on_connection_lost(self, connection: Connection) -> None:
        if connection is self.active:
            self.fail_calls(ConnectionError("the plugin closed the connection"))

    def on_message(self, connection: Connection, message: dict[str, Any], now: float) -> None:
        if connection.state == "handshake":  # a wrong key is ignored rather than refused (protocol.md 9.2)
            if message.get("type") != "handshake":
                return  # the SDK's heartbeat thread can write on a new socket before its handshake goes out
            connection.state = "declaring" if message.get("data", {}).get("key") == self.key else "ignored"
        elif connection.state == "declaring":  # declarations, assets, end; a host never answers them
            if message.get("type") == "manifest_declaration":
                connection.manifest = message["data"]
            elif message.get("type") == "end":
                connection.state = "ready"
                if not self.plugin_id.done():
                    self.active = connection
                    self.plugin_id.set_result(f"{connection.manifest.get('author')}/{connection.manifest.get('name')}")
        elif connection is self.active and message.get("event") == "session":  # skip heartbeats and logs
            self._on_session(message["session_id"], message["data"]["type"], message["data"]["data"], now)

    def _on_session(self, session_id: str, kind: str, body: Any, now: float) -> None:
        call = self.calls.get(session_id)
        if kind == "invoke":
            self._answer_reverse(session_id, body)
        elif call is None:
            return
        elif kind == "stream":
            call.chunks.append(body)
            if call.on_chunk is not None:
                call.on_chunk(body)
        elif kind == "error":
            call.error = body
        elif kind == "end":
            del self.calls[session_id]
            call.done.set_result(now)

    def _connection_for(self, session_id: str) -> Connection | None:
        return self.active

    def _send(self, session_id: str, event: str, data: dict[str, Any]) -> None:
        connection = self._connection_for(session_id)
        assert connection is not None and connection.transport is not None
        connection.transport.write(envelope_line(session_id, event, data))

    def _answer_reverse(self, session_id: str, invoke: dict[str, Any]) -> None:
        reply = {"backwards_request_id": invoke["backwards_request_id"]}
        if invoke.get("type") == "llm":
            for chunk in llm_chunks(invoke["request"], self.stream_chunks):
                self._send(
                    session_id, "backwards_response", {**reply, "event": "response", "message": "stream", "data": chunk}
                )
        else:
            message = f"the reference host does not answer {invoke.get('type')!r}"
            self._send(session_id, "backwards_response", {**reply, "event": "error", "message": message, "data": None})
        self._send(session_id, "backwards_response", {**reply, "event": "end", "message": "", "data": None})

    async def invoke_tool(self, provider: str, tool: str, parameters: dict[str, Any]) -> tuple[float, ToolCall]:
        """Time one tool call from writing the request to parsing the plugin's `end`, in milliseconds."""
        return await self._invoke_tool(str(uuid.uuid4()), provider, tool, parameters)

    async def _invoke_tool(
        self,
        session_id: str,
        provider: str,
        tool: str,
        parameters: dict[str, Any],
        on_chunk: Callable[[Any], None] | None = None,
    ) -> tuple[float, ToolCall]:
        call = ToolCall(asyncio.get_running_loop().create_future(), on_chunk=on_chunk)
        self.calls[session_id] = call
        data = {
            "user_id": "bench",
            "type": "tool",
            "action": "invoke_tool",
            "provider": provider,
            "tool": tool,
            "tool_parameters": parameters,
            "credentials": {},
            "credential_type": "api-key",
        }
        started = time.perf_counter()
        self._send(session_id, "request", data)
        ended = await call.done
        return (ended - started) * 1000, call


class FleetHost(ReferenceHost):
    """A tuned host for many plugins at once: each registered connection is kept under its plugin id (a plugin that
    reconnects replaces its old connection), and tool calls run concurrently, each on its plugin's connection."""

    def __init__(self, key: str) -> None:
        super().__init__(tuned=True, key=key)
        self.plugins: dict[str, Connection] = {}
        self.routes: dict[str, Connection] = {}  # session id -> the connection its request went to

    def on_message(self, connection: Connection, message: dict[str, Any], now: float) -> None:
        if connection.state == "ready":
            if message.get("event") == "session" and self.routes.get(message.get("session_id", "")) is connection:
                data = message["data"]
                self._on_session(message["session_id"], data["type"], data["data"], now)
            return
        super().on_message(connection, message, now)
        if connection.state == "ready":
            self.plugins[f"{connection.manifest.get('author')}/{connection.manifest.get('name')}"] = connection

    def on_connection_lost(self, connection: Connection) -> None:
        for session_id, routed in list(self.routes.items()):
            call = self.calls.get(session_id)
            if routed is connection and call is not None and not call.done.done():
                call.done.set_exception(ConnectionError("the plugin closed the connection"))
        for plugin_id, registered in list(self.plugins.items()):
            if registered is connection:
                del self.plugins[plugin_id]

    def _connection_for(self, session_id: str) -> Connection | None:
        return self.routes.get(session_id)

    async def invoke_tool_of(
        self, plugin_id: str, provider: str, tool: str, parameters: dict[str, Any]
    ) -> tuple[float, ToolCall]:
        """invoke_tool on the connection of `plugin_id` (KeyError if it is not registered)."""
        session_id = str(uuid.uuid4())
        self.routes[session_id] = self.plugins[plugin_id]
        try:
            return await self._invoke_tool(session_id, provider, tool, parameters)
        finally:
            del self.routes[session_id]
            self.calls.pop(session_id, None)


def envelope_line(session_id: str, event: str, data: dict[str, Any]) -> bytes:
    """A host -> plugin message line, with the keys the daemon always writes."""
    envelope: dict[str, Any] = {"session_id": session_id, "conversation_id": None, "message_id": None, "app_id": None}
    envelope |= {"endpoint_id": None, "context": None, "event": event, "data": data}
    return json.dumps(envelope, separators=(",", ":")).encode() + b"\n"


def llm_chunks(request: dict[str, Any], stream_chunks: int) -> list[dict[str, Any]]:
    """LLMResultChunk dicts: one chunk without streaming, else content chunks and a closing chunk with the usage."""
    model = str(request.get("model") or "reference-llm")
    usage = {
        "prompt_tokens": 3,
        "prompt_unit_price": "0",
        "prompt_price_unit": "0",
        "prompt_price": "0",
        "completion_tokens": 9,
        "completion_unit_price": "0",
        "completion_price_unit": "0",
        "completion_price": "0",
        "total_tokens": 12,
        "total_price": "0",
        "currency": "USD",
        "latency": 0.0,
    }

    def chunk(index: int, content: str, last: bool) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content, "name": None, "tool_calls": []}
        delta = {"index": index, "message": message, "usage": usage if last else None}
        delta["finish_reason"] = "stop" if last else None
        return {"model": model, "prompt_messages": [], "system_fingerprint": None, "delta": delta}

    if request.get("stream") is False:
        return [chunk(0, ANSWER, True)]
    words = ANSWER.split(" ")
    pieces = [words[i % len(words)] + " " for i in range(stream_chunks - 1)]
    return [chunk(i, piece, False) for i, piece in enumerate(pieces)] + [chunk(len(pieces), "", True)]
