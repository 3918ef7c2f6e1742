"""A raw HTTP client that can leave in the middle of a streamed answer, as a daemon or a Dify API that gives up."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def streaming_post(
    port: int, path: str, body: dict[str, Any], headers: dict[str, str], until: bytes
) -> Iterator[socket.socket]:
    """POST `body` as JSON and read the answer until `until` has come; leaving the block closes the connection."""
    content = json.dumps(body).encode()
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()] + [f"Content-Length: {len(content)}", "", ""]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
        client.sendall("\r\n".join(lines).encode() + content)
        received = b""
        while until not in received:
            part = client.recv(65536)
            assert part, f"the answer ended before {until!r} came: {received!r}"
            received += part
        yield client
