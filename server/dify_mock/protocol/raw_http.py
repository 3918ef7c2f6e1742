"""Raw HTTP/1.1 requests as the daemon hands them to plugins: Go's `Request.Write` after its endpoint rewrite.

Pure: bytes in, bytes out. The daemon clones the incoming request to `/e/{hook_id}/{path}`, points it at
`{path}` with the query re-encoded, drops the headers that trace the caller, adds `Dify-Hook-Id` and
`Dify-Hook-Url`, reads the body (at most 10 MB) and writes the result with Go's serializer. Go's quirks are
kept on purpose, since a plugin sees exactly them behind a real daemon:

- header names are canonicalised (`x-my_header` -> `X-My_header`) and written sorted, after `Host`,
  `User-Agent` (Go's own `Go-http-client/1.1` when the caller sent none) and the body framing;
- the query is parsed and re-encoded sorted by key; pairs with `;` or a bad `%` escape are dropped;
- an empty body is sent without framing for GET, HEAD, DELETE and OPTIONS, but as a chunked body holding only
  the terminator (`0\\r\\n\\r\\n`) for POST and PUT.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_BODY_BYTES = 10 * 1024 * 1024
GO_USER_AGENT = b"Go-http-client/1.1"
# Headers the daemon deletes before passing a request on (canonical form).
TRACE_HEADERS = frozenset(
    {
        b"X-Forwarded-For",
        b"X-Real-Ip",
        b"X-Forwarded",
        b"X-Original-Forwarded-For",
        b"X-Original-Url",
        b"X-Original-Host",
    }
)
# Written by Request.Write itself, never from the header map.
SELF_WRITTEN = frozenset({b"Host", b"User-Agent", b"Content-Length", b"Transfer-Encoding", b"Trailer"})
METHODS_USUALLY_WITHOUT_BODY = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "PROPFIND", "SEARCH"})

_ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_PATH_SAFE = _ALNUM | frozenset(b"-_.~$&+,/:;=@")
_QUERY_SAFE = _ALNUM | frozenset(b"-_.~")
_TOKEN = _ALNUM | frozenset(b"!#$%&'*+-.^_`|~")
_HEX = b"0123456789ABCDEF"

Headers = list[tuple[bytes, bytes]]


def canonical_header_name(name: bytes) -> bytes:
    """Go's CanonicalMIMEHeaderKey: upper case at the start and after each `-`, lower case elsewhere."""
    if not name or any(byte not in _TOKEN for byte in name):
        return name
    result = bytearray()
    upper = True
    for byte in name:
        char = bytes([byte])
        result += char.upper() if upper else char.lower()
        upper = byte == ord("-")
    return bytes(result)


def _escape(value: bytes, safe: frozenset[int], space_as_plus: bool = False) -> bytes:
    out = bytearray()
    for byte in value:
        if byte in safe:
            out.append(byte)
        elif byte == 0x20 and space_as_plus:
            out.append(ord("+"))
        else:
            out += b"%" + bytes([_HEX[byte >> 4], _HEX[byte & 15]])
    return bytes(out)


def escape_path(path: str) -> bytes:
    """Go's URL.EscapedPath for a path without a usable RawPath."""
    return _escape(path.encode("utf-8"), _PATH_SAFE) or b"/"


def _query_unescape(value: bytes) -> bytes | None:
    out = bytearray()
    index = 0
    while index < len(value):
        byte = value[index]
        if byte == ord("%"):
            pair = value[index + 1 : index + 3]
            if len(pair) < 2 or any(c not in b"0123456789abcdefABCDEF" for c in pair):
                return None
            out.append(int(pair, 16))
            index += 3
            continue
        out.append(0x20 if byte == ord("+") else byte)
        index += 1
    return bytes(out)


def reencode_query(raw_query: bytes) -> bytes:
    """Go's `url.ParseQuery(q)` then `Values.Encode()`: sorted by key, each value escaped, bad pairs dropped."""
    values: dict[bytes, list[bytes]] = {}
    for pair in raw_query.split(b"&"):
        if not pair or b";" in pair:
            continue
        raw_key, _, raw_value = pair.partition(b"=")
        key, value = _query_unescape(raw_key), _query_unescape(raw_value)
        if key is None or value is None:
            continue
        values.setdefault(key, []).append(value)
    return b"&".join(
        _escape(key, _QUERY_SAFE, True) + b"=" + _escape(value, _QUERY_SAFE, True)
        for key in sorted(values)
        for value in values[key]
    )


def _clean_value(value: bytes) -> bytes:
    return value.replace(b"\r", b" ").replace(b"\n", b" ").strip(b" \t")


def write_request(method: str, target: bytes, host: bytes, headers: Headers, body: bytes) -> bytes:
    """Go's `Request.Write` for a request whose body is fully read: `headers` are canonical, Host excluded."""
    lines = [method.encode("ascii") + b" " + target + b" HTTP/1.1", b"Host: " + host]
    user_agents = [value for name, value in headers if name == b"User-Agent"]
    user_agent = _clean_value(user_agents[0]) if user_agents else GO_USER_AGENT
    if user_agent:
        lines.append(b"User-Agent: " + user_agent)
    chunked = False
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    elif method not in METHODS_USUALLY_WITHOUT_BODY:
        # Go cannot tell an empty reader from an unknown length here, so it falls back to chunked encoding.
        lines.append(b"Transfer-Encoding: chunked")
        chunked = True
    rest = [(name, value) for name, value in headers if name not in SELF_WRITTEN]
    for name, value in sorted(rest, key=lambda item: item[0]):  # stable: values keep their order
        lines.append(name + b": " + _clean_value(value))
    head = b"\r\n".join(lines) + b"\r\n\r\n"
    return head + (b"0\r\n\r\n" if chunked else body)


def endpoint_request(
    method: str,
    path: str,
    raw_query: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes,
    hook_id: str,
    https: bool = False,
) -> bytes:
    """The raw request the daemon sends for `/e/{hook_id}{path}`; `path` is percent-decoded, `headers` raw."""
    canonical: Headers = [(canonical_header_name(name), value.strip(b" \t")) for name, value in headers]

    def first(name: bytes) -> bytes | None:
        return next((value for key, value in canonical if key == name), None)

    host = first(b"X-Original-Host") or first(b"Host") or b""
    kept = [(name, value) for name, value in canonical if name not in TRACE_HEADERS and name != b"Host"]
    kept = [(name, value) for name, value in kept if name != b"Dify-Hook-Id"]
    kept.append((b"Dify-Hook-Id", hook_id.encode()))
    if not first(b"Dify-Hook-Url"):
        scheme = b"https" if https or first(b"X-Forwarded-Proto") == b"https" else b"http"
        url = scheme + b"://" + host + b"/e/" + hook_id.encode() + path.encode("utf-8")
        kept = [(name, value) for name, value in kept if name != b"Dify-Hook-Url"]
        kept.append((b"Dify-Hook-Url", url))
    query = reencode_query(raw_query)
    target = escape_path(path) + (b"?" + query if query else b"")
    return write_request(method, target, host, kept, body[:MAX_BODY_BYTES])


def build_request(method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes, host: str) -> bytes:
    """A raw request for a plugin (trigger webhook, OAuth callback), written the way Go writes one."""
    canonical = [(canonical_header_name(name.encode("latin-1")), value.encode("latin-1")) for name, value in headers]
    return write_request(method.upper(), target.encode("latin-1"), host.encode("latin-1"), canonical, body)
