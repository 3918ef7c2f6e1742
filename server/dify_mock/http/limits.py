"""Bounds on what one HTTP request can make the mock hold: its head (size and time, in the protocol uvicorn runs)
and its body (size and stalls, as the app reads it). docs/security.md, "Limits", lists them with their settings.

A body is counted as it arrives, never held whole first: one over `--max-request-body-bytes` (declared in
`Content-Length`, or counted as a chunked body comes in) gets a 413 and the connection is closed, so the rest of it
is never read. A body that stops arriving for `--request-read-timeout` seconds gets a 408, closed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("dify_mock.http")


class BodyRefused(Exception):
    """The request's body was refused and answered; the app's own answer is dropped."""


def _plain(status: int, text: str) -> tuple[Message, Message]:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body, "more_body": False},
    )


class BoundedBody:
    """One request's receive and send, counting the body and timing its gaps."""

    def __init__(self, receive: Receive, send: Send, max_bytes: int, read_timeout: float) -> None:
        self._receive = receive
        self._send = send
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout
        self.received = 0
        self.complete = False
        self.started = False
        self.refused = False

    @staticmethod
    def declared_length(scope: Scope) -> int | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return int(value) if value.isdigit() else None
        return None

    async def receive(self) -> Message:
        if self.complete or self.refused:
            return await self._receive()  # after the body: only http.disconnect, which may take as long as it takes
        try:
            message = await asyncio.wait_for(self._receive(), self.read_timeout)
        except TimeoutError:
            await self.refuse(408, f"the request body stalled: no byte for {self.read_timeout:g} s")
            raise BodyRefused from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.max_bytes:
                await self.refuse(413, self.too_large())
                raise BodyRefused
            self.complete = not message.get("more_body", False)
        return message

    def too_large(self) -> str:
        return (
            f"the request body is over the limit of {self.max_bytes} bytes "
            "(--max-request-body-bytes, DIFY_MOCK_MAX_REQUEST_BODY_BYTES)"
        )

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def refuse(self, status: int, text: str) -> None:
        """Answers `status` unless an answer has begun; either way the connection closes after it."""
        if self.refused:
            return
        log.warning("refused a request body: %s", text)
        if not self.started:
            for message in _plain(status, text):
                await self._send(message)
        self.refused = True


async def bounded(app: ASGIApp, scope: Scope, receive: Receive, send: Send, max_bytes: int, timeout: float) -> None:
    """Runs `app` on an HTTP request whose body is bounded; a body refused before the app read it is answered here."""
    body = BoundedBody(receive, send, max_bytes, timeout)
    declared = body.declared_length(scope)
    if declared is not None and declared > max_bytes:
        await body.refuse(413, body.too_large())
        return
    with contextlib.suppress(BodyRefused):
        await app(scope, body.receive, body.send)


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a bound on the request head: its size (431 past `max_head_bytes`), and the
    time from the connection, or the end of the last answer, to the head's end (the connection is closed past
    `head_timeout`: a client that connects and sends nothing, or a header a byte at a time, is not kept)."""

    max_head_bytes = 1024 * 1024
    head_timeout = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_bytes = 0  # bytes read since the last head began: httptools holds a header whole until its end
        self.in_head = True
        self.head_refused = False
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        if self.head_refused:
            return
        if self.in_head:  # counted as read (with any body bytes that came along), before the parser holds them
            self.head_bytes += len(data)
            if self.head_bytes > self.max_head_bytes:
                text = f"the request head is over the limit of {self.max_head_bytes} bytes (--max-header-bytes)"
                self._close_head(431, text)
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        if not self.head_refused:
            self.in_head = False
            self.head_bytes = 0
            self._disarm_head_timer()
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self.head_refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self.head_refused:
            self.in_head = True
            super().on_message_complete()

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self.head_timer = asyncio.get_running_loop().call_later(self.head_timeout, self._head_expired)

    def _disarm_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_expired(self) -> None:
        self.head_timer = None
        if self.cycle is None or self.cycle.response_complete:  # no request under way: waiting for a head
            self._close_head(408, f"no complete request head within {self.head_timeout:g} s (--request-read-timeout)")

    def _close_head(self, status: int, text: str) -> None:
        log.warning("closing an HTTP connection from %s: %s", _peer(self.client), text)
        self.head_refused = True
        self._disarm_head_timer()
        if not self.transport.is_closing():
            start, body = _plain(status, text)
            reason = b"Request Header Fields Too Large" if status == 431 else b"Request Timeout"
            head = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
            head += [name + b": " + value + b"\r\n" for name, value in start["headers"]]
            self.transport.write(b"".join(head) + b"\r\n" + body["body"])
            self.transport.close()


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "?"


def head_protocol(max_head_bytes: int, head_timeout: float) -> type[BoundedHeadProtocol]:
    """The protocol class uvicorn runs, with this server's bounds."""
    return type("BoundedHead", (BoundedHeadProtocol,), {"max_head_bytes": max_head_bytes, "head_timeout": head_timeout})
