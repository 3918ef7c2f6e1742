"""A hand-driven plugin connection over a real socket, for the cases the SDK cannot produce on purpose:
malformed lines, silence, disconnects in the middle of a request, missing permissions."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

TOOL_PROVIDER = {
    "identity": {"author": "wire", "name": "wire", "label": {"en_US": "Wire"}, "description": {"en_US": "Wire"}},
    "credentials_schema": [],
    "tools": [{"identity": {"author": "wire", "name": "noop", "label": {"en_US": "Noop"}}, "parameters": []}],
}


def manifest(name: str = "wire_plugin", permission: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "version": "0.0.1",
        "type": "plugin",
        "author": "wire",
        "name": name,
        "label": {"en_US": name},
        "resource": {"memory": 1048576, "permission": permission or {}},
        "plugins": {"tools": ["provider/wire.yaml"]},
        "meta": {"version": "0.0.1", "arch": ["amd64"], "runner": {"language": "python", "version": "3.12"}},
    }


class WirePlugin:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buffer = b""

    def send(self, message: Any) -> None:
        raw = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.sock.sendall(raw + b"\n\n")

    def register(self, key: str = "any", name: str = "wire_plugin", permission: dict[str, Any] | None = None) -> None:
        self.send({"type": "handshake", "data": {"key": key}})
        self.send({"type": "manifest_declaration", "data": manifest(name, permission)})
        self.send({"type": "tool_declaration", "data": [TOOL_PROVIDER]})
        self.send({"type": "end", "data": {}})

    def read_message(self, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("the host closed the connection")
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)  # type: ignore[no-any-return]

    def read_text(self, timeout: float = 60) -> str:
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        return data.decode()

    def session(self, session_id: str, kind: str, data: Any) -> None:
        self.send({"event": "session", "session_id": session_id, "data": {"type": kind, "data": data}})

    def invoke(self, session_id: str, invoke_type: str, request: dict[str, Any], request_id: str = "r1") -> None:
        self.session(
            session_id, "invoke", {"type": invoke_type, "backwards_request_id": request_id, "request": request}
        )

    def close(self) -> None:
        self.sock.close()
