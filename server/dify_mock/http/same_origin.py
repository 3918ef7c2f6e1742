"""Same-origin safety: what a web page in the developer's browser cannot make the mock do.

In front of every route (the fast lane included):
- the `Host` must be one the mock listens on or was told about (loopback names and any IP address, the --host name,
  the --files-url and --public-url hosts, --allowed-host): a page on a rebound DNS name (attacker.example ->
  127.0.0.1) is refused;
- a request that changes state (any method but GET, HEAD, OPTIONS) is refused when the browser says it comes from
  another site (`Sec-Fetch-Site: cross-site` or `same-site`) or another origin (`Origin`);
- a POST must be one that a page cannot send without a CORS preflight (which the mock never grants): a JSON (or
  any non-form) content type, or a custom `X-...` header. Dify (JSON, X-Api-Key), the daemon (JSON,
  X-Inner-Api-Key) and the SDK's serverless transactions (Dify-Plugin-Session-ID) all send one.

Two kinds of route are exempt from the cross-site rules, as their callers are not browsers of the developer:
plugin endpoints (`/e/...`, webhooks from anywhere, as Dify serves them) and the signed upload URL the SDK posts a
multipart file to (`/files/upload/for-plugin`, guarded by its signature; still refused when a browser says it is
cross-site). Every answer to a GET or HEAD but an endpoint's says `nosniff` and may not be framed.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dify_mock.config.settings import Settings

log = logging.getLogger("dify_mock.http")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain", ""})
ENDPOINT_PREFIX = "/e/"
SIGNED_UPLOAD = "/files/upload/for-plugin"
CUSTOM_HEADER_PREFIXES = (b"x-", b"dify-")
WILDCARDS = frozenset({"", "0.0.0.0", "::"})
HARDENING = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY")]
MAX_WARNED = 100  # distinct refusals logged; a page that keeps trying does not flood the log


def host_name(value: str) -> str:
    """The name of a `Host` header or URL authority, without port, brackets or a trailing dot, lower case."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    name, colon, port = value.rpartition(":")
    return (name if colon and port.isdigit() else value).rstrip(".")


def is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def served_names(settings: Settings) -> frozenset[str]:
    published = (settings.files_base_url, settings.outside_url)
    names = {"localhost", *(host_name(urlsplit(url).netloc) for url in published), *settings.allowed_host}
    if settings.host not in WILDCARDS:
        names.add(host_name(settings.host))
    return frozenset(host_name(name) if name != "*" else name for name in names)


class SameOriginGuard:
    """ASGI middleware: refuses what the module docstring says, passes everything else to `app`."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.names = served_names(settings)
        self.public_origins = {origin_of(settings.files_base_url), origin_of(settings.outside_url)}
        self.warned: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])  # the last of a repeated header; none of those read here may repeat
        refusal = self.refusal(scope, headers)
        if refusal is not None:
            status, error, message = refusal
            self.warn(f"refused {scope['method']} {scope['path']} with {status}: {message}")
            await JSONResponse({"error": error, "message": message}, status_code=status)(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD") or scope["path"].startswith(ENDPOINT_PREFIX):
            await self.app(scope, receive, send)  # no page to sniff or frame; and no extra hop for a plugin call
            return

        async def hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                message["headers"] = headers + [header for header in HARDENING if header[0] not in present]
            await send(message)

        await self.app(scope, receive, hardened)

    def refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> tuple[int, str, str] | None:
        host = headers.get(b"host", b"").decode("latin-1")
        if host and not self.host_served(host_name(host)):
            return (
                421,
                "unknown_host",
                f"the Host {host!r} is not a name this mock serves (loopback, --host, --files-url, "
                "--public-url, --allowed-host): refused, against DNS rebinding; start it with --allowed-host NAME to serve it",
            )
        if scope["method"] in SAFE_METHODS or scope["path"].startswith(ENDPOINT_PREFIX):
            return None
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
        if site in ("cross-site", "same-site"):
            return 403, "cross_site_request", f"a {site} request from a web page may not change this mock's state"
        origin = headers.get(b"origin")
        if origin is not None:
            sent = origin.decode("latin-1").lower()
            own = f"{scope.get('scheme', 'http')}://{host}".lower()
            if sent != origin_of(own) and sent not in self.public_origins:
                return 403, "cross_origin_request", f"a request from the web page at {sent} may not change its state"
        if scope["method"] != "POST" or scope["path"] == SIGNED_UPLOAD:
            return None
        content_type = headers.get(b"content-type", b"").decode("latin-1").split(";", 1)[0].strip().lower()
        if content_type in FORM_TYPES and not has_custom_header(headers):
            return (
                403,
                "custom_header_required",
                "a POST with "
                + (f"Content-Type {content_type}" if content_type else "no Content-Type")
                + " could come from any web page: send JSON (Content-Type: application/json), or add a header such "
                "as X-Requested-With: dify-mock (X-Api-Key counts)",
            )
        return None

    def host_served(self, name: str) -> bool:
        return name in self.names or "*" in self.names or name.endswith(".localhost") or is_ip_address(name)

    def warn(self, text: str) -> None:
        if text not in self.warned and len(self.warned) < MAX_WARNED:
            self.warned.add(text)
            log.warning("%s", text)


def has_custom_header(headers: Iterable[bytes]) -> bool:
    return any(name.startswith(CUSTOM_HEADER_PREFIXES) for name in headers)


def origin_of(url: str) -> str:
    """scheme://host[:port], the port left out when it is the scheme's default, as browsers write `Origin`."""
    parts = urlsplit(url.lower())
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default else "")
