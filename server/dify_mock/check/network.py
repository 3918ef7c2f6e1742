"""The plugin's way out, closed and watched: an HTTP proxy on loopback that refuses every request and notes its host.

The plugin runs with HTTP_PROXY, HTTPS_PROXY and ALL_PROXY pointing here (loopback excepted), so a call to a
third-party service fails at once, with no wait on DNS or a timeout, and the check can say which host the plugin
needed. A client that ignores proxies still fails, for want of a network, and its error message is searched for a
host instead (`hosts_in`).
"""

from __future__ import annotations

import re
import socket
import threading
import time
from urllib.parse import urlsplit

REFUSAL = (
    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 51\r\n\r\n"
    b"dify-mock check: this plugin has no network access\n"
)
# Where a client names the host it could not reach: urllib3's `host='x'`, "Failed to resolve 'x'", aiohttp's
# "Cannot connect to host x:443", "getaddrinfo ... x". A URL merely quoted in a message names no host.
HOST_IN_MESSAGE = re.compile(
    r"(?:host=['\"](?P<host>[\w.-]+)['\"])|"
    r"(?:(?:resolve|lookup|connect to host|getaddrinfo failed for|server at)[\s:'\"(]*(?P<name>[a-z0-9.-]+\.[a-z]{2,}))",
    re.IGNORECASE,
)
NO_NETWORK_WORDS = (
    "name or service not known",
    "temporary failure in name resolution",
    "failed to resolve",
    "nodename nor servname",
    "network is unreachable",
    "no address associated",
    "max retries exceeded",
    "connecterror",
    "connectionerror",
    "connection refused",
    "proxyerror",
    "tunnel connection failed",
    "403 forbidden",
    "no network access",
    "getaddrinfo failed",
    "cannot connect to host",
    "unable to find the server",
    "could not resolve",
)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class RefusingProxy:
    """Accepts on 127.0.0.1, reads one request line, records (time, host) and answers 403."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.5)
        self.port = self._server.getsockname()[1]
        self._seen: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dify-mock-check-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        """The variables that send a plugin's HTTP through this proxy, the mock on loopback excepted."""
        names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
        loopback = ",".join(LOOPBACK)
        return {**{name: self.url for name in names}, "NO_PROXY": loopback, "no_proxy": loopback}

    def hosts_since(self, since: float) -> list[str]:
        with self._lock:
            return sorted({host for seen, host in self._seen if seen >= since})

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=2)
        self._server.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._refuse, args=(connection,), daemon=True).start()

    def _refuse(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                head = connection.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
                host = requested_host(head)
                if host:
                    with self._lock:
                        self._seen.append((time.monotonic(), host))
                connection.sendall(REFUSAL)
            except OSError:
                return


def requested_host(request_line: str) -> str | None:
    """`CONNECT api.x.com:443 HTTP/1.1` or `GET http://api.x.com/v1 HTTP/1.1` -> api.x.com."""
    parts = request_line.split()
    if len(parts) < 2:
        return None
    method, target = parts[0].upper(), parts[1]
    if method == "CONNECT":
        return target.rsplit(":", 1)[0].strip("[]") or None
    return urlsplit(target).hostname


def client_hosts(message: str) -> list[str]:
    """Hosts a client's connection error names; [] when the message is no connection error."""
    if not is_connection_error(message):
        return []
    found = {next(group for group in match.groups() if group) for match in HOST_IN_MESSAGE.finditer(message)}
    return sorted(host for host in found if host not in LOOPBACK)


def is_connection_error(message: str) -> bool:
    lowered = message.lower()
    return any(words in lowered for words in NO_NETWORK_WORDS)
