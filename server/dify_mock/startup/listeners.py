"""The two listening sockets, bound before anything else starts, so that a port in use is one line that says what
to do rather than a traceback from inside the server's start-up."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass


class ListenError(OSError):
    """A port that cannot be listened on; the text says which flag picks another."""


@dataclass
class Listeners:
    http: socket.socket
    debug: socket.socket

    @property
    def ports(self) -> tuple[int, int]:
        return self.http.getsockname()[1], self.debug.getsockname()[1]

    def close(self) -> None:
        self.http.close()
        self.debug.close()


def bind_listeners(host: str, port: int, debug_port: int) -> Listeners:
    http = bind(host, port, "the HTTP API", "--port")
    try:
        debug = bind(host, debug_port, "remote debug", "--debug-port")
    except ListenError:
        http.close()
        raise
    return Listeners(http, debug)


def bind(host: str, port: int, what: str, flag: str) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise ListenError(
            f"cannot listen on --host {host!r}: {error.strerror}; use an address such as 127.0.0.1"
        ) from None
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise ListenError(
                f"port {port} ({what}) on {host} is already in use: is another dify-mock running? "
                f"Stop it, or pick another port with {flag} (0: any free port)"
            ) from None
        if error.errno == errno.EACCES:
            raise ListenError(f"port {port} ({what}) needs privileges: pick a port above 1023 with {flag}") from None
        raise ListenError(f"cannot listen on {host}:{port} ({what}, {flag}): {error.strerror}") from None
    listener.setblocking(False)
    return listener
