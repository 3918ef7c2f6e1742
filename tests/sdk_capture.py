"""What a real SDK process sends when it registers over TCP, captured by a bare socket (no dify-mock involved)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any


def capture_registration(plugin: Path, python: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Every message the plugin sends from its handshake to its `end`, parsed, in order."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(timeout)
    port = listener.getsockname()[1]
    env = {
        **os.environ,
        "INSTALL_METHOD": "remote",
        "REMOTE_INSTALL_URL": f"127.0.0.1:{port}",
        "REMOTE_INSTALL_KEY": "capture",
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [python, "-m", "main"],
        cwd=plugin,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout or []), daemon=True)
    reader.start()
    messages: list[dict[str, Any]] = []
    try:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            raise AssertionError(f"{plugin.name} never connected; its output:\n{b''.join(output).decode()}") from None
        connection.settimeout(timeout)
        buffer = b""
        with connection:
            deadline = time.monotonic() + timeout
            while not any(message.get("type") == "end" for message in messages):
                if time.monotonic() > deadline:
                    raise AssertionError(f"{plugin.name} sent no `end` within {timeout} s: {messages}")
                data = connection.recv(65536)
                if not data:
                    raise AssertionError(f"{plugin.name} closed before `end`; output:\n{b''.join(output).decode()}")
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                messages += [json.loads(line) for line in lines if line.strip()]
        # The first heartbeat may come in the same read as `end`: keep the registration only.
        messages = messages[: next(i for i, message in enumerate(messages) if message.get("type") == "end") + 1]
    finally:
        listener.close()
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    return messages


def declarations_from(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """`{"manifest": ..., "tools": [...], ...}` from the registration messages, as the mock keys them."""
    kinds = {
        "tool_declaration": "tools",
        "model_declaration": "models",
        "endpoint_declaration": "endpoints",
        "agent_strategy_declaration": "agent_strategies",
        "datasource_declaration": "datasources",
        "trigger_declaration": "triggers",
    }
    result: dict[str, Any] = {}
    for message in messages:
        if message["type"] == "manifest_declaration":
            result["manifest"] = message["data"]
        elif message["type"] in kinds:
            result[kinds[message["type"]]] = message["data"]
    return result
