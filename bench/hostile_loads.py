"""Hostile loads against a running mock, from raw loopback sockets: what tests/hostile/test_memory_bounds.py checks
the mock survives, and what the `hostile` bench section times a well-behaved plugin's calls under.

Every load that sends a lot stops early when `enough()` says so: the tests pass a check of the mock's resident
memory, so that run against code without the bounds, a load fails its test at the limit instead of filling the
machine. Each case is one from issue 28 ("Memory that follows the bytes sent").
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.wire_plugin import WirePlugin

MIB = 1024 * 1024
Enough = Callable[[], bool]
MODEL_PERMISSION = {"model": {"enabled": True, "llm": True, "tts": True}}


class Memory:
    """The resident memory of one process, from /proc (Linux): now, and its peak since the last reset."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def _field(self, name: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
        raise LookupError(f"/proc/{self.pid}/status has no {name}")

    def rss_mb(self) -> float:
        return self._field("VmRSS")

    def peak_mb(self) -> float:
        return self._field("VmHWM")

    def reset_peak(self) -> None:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def over(self, limit_mb: float) -> Enough:
        return lambda: self.rss_mb() > limit_mb


def never() -> bool:
    return False


def _connect(port: int, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:  # before connecting, so that the window offered stays small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", port))
    return sock


def read_until_closed(sock: socket.socket, timeout: float = 60) -> bytes:
    """What the peer sends until it closes (a reset counts as closed); TimeoutError if it stays open."""
    sock.settimeout(timeout)
    received = b""
    try:
        while data := sock.recv(65536):
            received += data
    except ConnectionResetError:
        pass
    return received


def _send_until_refused(sock: socket.socket, parts: Iterator[bytes], enough: Enough) -> str:
    """Sends each part until the peer stops taking them; why it stopped: `closed`, `sent` (all of it), `enough`."""
    try:
        for index, part in enumerate(parts):
            sock.sendall(part)
            if index % 8 == 0 and enough():
                return "enough"
    except OSError:
        return "closed"
    return "sent"


def _in_threads(count: int, work: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            results[index] = work(index)
        except Exception as error:  # what went wrong is the result the caller checks
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# The inner API reads a body before anything else it checks (dispatch first looks the plugin up, as the daemon does).
DISPATCH = b"POST /inner/api/invoke/llm HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


def big_bodies(port: int, count: int, size: int, chunked: bool, enough: Enough) -> list[tuple[str, bytes]]:
    """`count` dispatch requests at once, each with a body of `size` bytes (declared, or chunked and never ended):
    per request, why sending stopped and what came back."""
    piece = b"x" * MIB

    def parts() -> Iterator[bytes]:
        for _ in range(size // MIB):
            yield b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece

    def post(_: int) -> tuple[str, bytes]:
        sock = _connect(port)
        framing = b"Transfer-Encoding: chunked\r\n" if chunked else b"Content-Length: %d\r\n" % size
        sock.sendall(DISPATCH + framing + b"\r\n")
        stopped = _send_until_refused(sock, parts(), enough)
        if stopped == "enough":
            return stopped, b""
        with sock:
            return stopped, read_until_closed(sock)

    return _in_threads(count, post)


def big_heads(port: int, count: int, size: int, enough: Enough) -> list[tuple[str, bytes]]:
    """`count` requests at once, each with one header of `size` bytes."""

    def get(_: int) -> tuple[str, bytes]:
        sock = _connect(port)
        head = iter([b"GET /health/check HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "] + [b"a" * MIB] * (size // MIB))
        stopped = _send_until_refused(sock, head, enough)
        if stopped == "sent":
            try:
                sock.sendall(b"\r\n\r\n")
            except OSError:
                stopped = "closed"
        with sock:
            return stopped, b"" if stopped == "enough" else read_until_closed(sock)

    return _in_threads(count, get)


def stalled_bodies(port: int, count: int) -> list[socket.socket]:
    """`count` chunked dispatch requests that stop in the middle of their body."""
    socks = []
    for _ in range(count):
        sock = _connect(port)
        sock.sendall(DISPATCH + b"Transfer-Encoding: chunked\r\n\r\n400\r\n" + b"y" * 100)
        socks.append(sock)
    return socks


def unkeyed_floods(debug_port: int, count: int, size: int, enough: Enough) -> list[str]:
    """`count` TCP connections that hand a wrong key, then send `size` bytes without a newline."""

    def flood(_: int) -> str:
        plugin = WirePlugin(debug_port)
        plugin.send({"type": "handshake", "data": {"key": "a wrong key"}})
        with plugin.sock:
            return _send_until_refused(plugin.sock, iter([b"z" * MIB] * (size // MIB)), enough)

    return _in_threads(count, flood)


def endless_registrations(debug_port: int, key: str, count: int, size: int, enough: Enough) -> list[Any]:
    """`count` plugins that register with the right key and `size` bytes of assets, and never send `end`: per
    connection, what the mock wrote back before closing it (TimeoutError if it was kept open)."""
    chunk = base64.b64encode(b"\0" * MIB).decode()

    def register(index: int) -> Any:
        plugin = WirePlugin(debug_port)
        plugin.send({"type": "handshake", "data": {"key": key}})
        asset = {"type": "asset_chunk", "data": {"filename": f"_assets/{index}.bin", "data": chunk, "end": False}}
        line = json.dumps(asset).encode() + b"\n\n"
        with plugin.sock:
            if _send_until_refused(plugin.sock, iter([line] * (size // MIB)), enough) == "enough":
                return "enough"
            return read_until_closed(plugin.sock)

    return _in_threads(count, register)


class WireSession:
    """A hand-driven plugin, registered, with a session open: a dispatch call to its tool that it never ends."""

    def __init__(self, http_port: int, debug_port: int, key: str, name: str, listed: Callable[[str], None]) -> None:
        self.plugin = WirePlugin(debug_port)
        self.plugin.register(key, name, MODEL_PERMISSION)
        listed(f"wire/{name}")
        body = json.dumps({"user_id": "hostile", "data": {"provider": "wire", "tool": "noop"}}).encode()
        self.caller = _connect(http_port)  # kept open: the session lives as long as its call
        self.caller.sendall(
            b"POST /plugin/default/dispatch/tool/invoke HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Plugin-ID: wire/%s\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (name.encode(), len(body), body)
        )
        self.session_id: str = self.plugin.read_message(60)["session_id"]
        self.stopped = ""

    def calls(self, invoke_type: str, request: dict[str, Any], count: int) -> Iterator[bytes]:
        for index in range(count):
            call = {"type": invoke_type, "backwards_request_id": f"r{index}", "request": request}
            message = {"event": "session", "session_id": self.session_id, "data": {"type": "invoke", "data": call}}
            yield json.dumps(message).encode() + b"\n\n"

    def flood(self, invoke_type: str, request: dict[str, Any], count: int, enough: Enough) -> str:
        """Sends `count` reverse calls and reads none of the answers; why it stopped (see _send_until_refused)."""
        self.plugin.sock.settimeout(120)  # a send that blocks is the mock not reading: the caller closes the socket
        self.stopped = _send_until_refused(self.plugin.sock, self.calls(invoke_type, request, count), enough)
        return self.stopped

    def answered(self, invoke_type: str, request: dict[str, Any], count: int) -> None:
        """Sends `count` reverse calls, reading every answer, until each has ended."""
        reader = threading.Thread(target=self._read_ends, args=(count,), daemon=True)
        reader.start()
        for line in self.calls(invoke_type, request, count):
            self.plugin.sock.sendall(line)
        reader.join()

    def _read_ends(self, count: int) -> None:
        ends = 0
        while ends < count:
            message = self.plugin.read_message(60)
            if message.get("event") == "backwards_response" and message["data"].get("event") == "end":
                ends += 1

    def close(self) -> None:
        for sock in (self.plugin.sock, self.caller):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # unblocks a send under way in another thread
            sock.close()


LLM_REQUEST = {
    "provider": "openai",
    "model_type": "llm",
    "model": "gpt-4o",
    "prompt_messages": [{"role": "user", "content": "hi"}],
    "model_parameters": {},
    "stream": True,
    "credentials": {},
}
TTS_REQUEST = {
    "provider": "openai",
    "model_type": "tts",
    "model": "tts-1",
    "content_text": "hello there",
    "voice": "alloy",
    "credentials": {},
}


def big_prompt(size: int) -> dict[str, Any]:
    """An LLM request about `size` bytes long: its journal entry is as large."""
    return {**LLM_REQUEST, "prompt_messages": [{"role": "user", "content": "p" * size}]}


def stalled_event_streams(port: int, count: int, query: str) -> list[socket.socket]:
    """`count` event streams opened and never read (a tiny receive window, so the mock's writes back up)."""
    socks = []
    for _ in range(count):
        sock = _connect(port, receive_buffer=4096)
        sock.sendall(b"GET /mock/events?%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % query.encode())
        socks.append(sock)
    return socks


def status_of(sock: socket.socket) -> int:
    """The status code of the answer coming on `sock` (reads its first line only)."""
    sock.settimeout(60)
    head = b""
    while b"\r\n" not in head:
        data = sock.recv(4096)
        if not data:
            raise ConnectionError(f"closed before a status line: {head!r}")
        head += data
    return int(head.split(b" ", 2)[1])


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


class CalmCaller:
    """A well-behaved plugin's tool, called one call after another in a thread until stopped: each call's time, and
    what went wrong with any."""

    def __init__(self, call: Callable[[str], str | None]) -> None:
        self.call = call
        self.seconds: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CalmCaller:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(120)

    def _run(self) -> None:
        index = 0
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                problem = self.call(f"calm-{index}")
            except Exception as error:  # what went wrong is the result the caller checks
                problem = repr(error)
            self.seconds.append(time.perf_counter() - started)
            if problem is not None:
                self.failures.append(problem)
            index += 1
