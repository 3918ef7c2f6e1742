"""A minimal HTTP/1.1 client for many concurrent POSTs whose answers are event streams.

The load section keeps a thousand streams open at once. httpx costs its event loop about 5 ms of CPU per call, and
a client that has kept connections alive queues new calls behind them (about 10 sessions open at once instead of
100, measured), so the client would measure itself. This one opens a connection per call, sends
`Connection: close` and reads to the end.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any


class StreamError(Exception):
    """The answer is not a complete HTTP/1.1 response."""


async def post_json(host: str, port: int, path: str, body: Any, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST `body` as JSON; the status and the whole (de-chunked) body, once the server has closed the stream."""
    payload = json.dumps(body, separators=(",", ":")).encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(payload)}", "Connection: close", "", ""]
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write("\r\n".join(lines).encode() + payload)
        response = await reader.read()
    finally:
        writer.close()
    head, separator, content = response.partition(b"\r\n\r\n")
    if not separator:
        raise StreamError(f"no complete response head: {response[:200]!r}")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise StreamError(f"not an HTTP status line: {status_line!r}")
    received = {
        name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)
    }
    if received.get("transfer-encoding", "").lower() == "chunked":
        content = dechunk(content)
    elif "content-length" in received and len(content) != int(received["content-length"]):
        raise StreamError(f"the body has {len(content)} bytes, Content-Length says {received['content-length']}")
    return int(parts[1]), content


def dechunk(content: bytes) -> bytes:
    """The body of a chunked transfer; StreamError unless it ends with the zero-length chunk."""
    body = bytearray()
    offset = 0
    while True:
        line_end = content.find(b"\r\n", offset)
        if line_end < 0:
            raise StreamError(f"the chunked body stops after {len(body)} bytes, without its last chunk")
        try:
            size = int(content[offset:line_end].split(b";", 1)[0], 16)
        except ValueError:
            raise StreamError(f"not a chunk size: {content[offset:line_end][:50]!r}") from None
        if size == 0:
            return bytes(body)
        start = line_end + 2
        if len(content) < start + size + 2:
            raise StreamError(f"the chunked body stops inside a chunk, after {len(body)} bytes")
        body += content[start : start + size]
        offset = start + size + 2
