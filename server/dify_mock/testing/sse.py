"""Server-sent events as the dispatch API streams them, parsed incrementally, and the chunks they carry."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from dify_mock.testing.errors import parse_plugin_error


class SSEParser:
    """Incremental `text/event-stream` parser that yields the `data` of each event.

    Lines end with LF, CRLF or CR; a blank line ends an event; several `data:` lines of one event are joined
    with LF; comments (`:`) and other fields (`event:`, `id:`, `retry:`) are ignored. An event still open when
    the stream ends is kept (the daemon's clients read line by line, so a missing final blank line is
    tolerated there too).
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._data: list[str] = []

    def feed(self, text: str) -> list[str]:
        self._buffer += text
        events: list[str] = []
        start = 0
        buffer = self._buffer
        length = len(buffer)
        while start < length:
            lf = buffer.find("\n", start)
            cr = buffer.find("\r", start)
            if lf == -1 and cr == -1:
                break
            if cr != -1 and (lf == -1 or cr < lf):
                if cr + 1 == length:
                    break  # a CR at the very end may be the first half of CRLF: wait for more
                end, next_start = cr, cr + 2 if buffer[cr + 1] == "\n" else cr + 1
            else:
                end, next_start = lf, lf + 1
            self._line(buffer[start:end], events)
            start = next_start
        self._buffer = buffer[start:]
        return events

    def close(self) -> list[str]:
        events: list[str] = []
        if self._buffer:
            self._line(self._buffer.rstrip("\r"), events)
            self._buffer = ""
        if self._data:
            events.append("\n".join(self._data))
            self._data = []
        return events

    def _line(self, line: str, events: list[str]) -> None:
        if not line:
            if self._data:
                events.append("\n".join(self._data))
                self._data = []
            return
        if line.startswith(":"):
            return
        field, _, value = line.partition(":")
        if field == "data":
            self._data.append(value.removeprefix(" "))


def parse_sse(body: bytes | str) -> list[str]:
    """The `data` of every event in a complete event-stream body."""
    parser = SSEParser()
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    return [*parser.feed(text), *parser.close()]


def parse_sse_events(body: bytes | str) -> list[dict[str, Any]]:
    """Every event of an event-stream body decoded from JSON (`{"code","message","data"}`), errors included."""
    events: list[dict[str, Any]] = []
    for data in parse_sse(body):
        if not data.strip():
            continue
        event = json.loads(data)
        if not isinstance(event, dict):
            raise ValueError(f"event is not a JSON object: {data[:200]!r}")
        events.append(event)
    return events


def decode_chunks(events: Iterable[str]) -> list[dict[str, Any]]:
    """Unwrap `{"code":0,"message":"success","data":<chunk>}` events into their chunks.

    Blank events are skipped. Raises PluginError on the first event whose `code` is not 0, and ValueError on
    an event that is not such an envelope.
    """
    chunks: list[dict[str, Any]] = []
    for data in events:
        if not data.strip():
            continue
        try:
            event = json.loads(data)
        except ValueError as exc:
            raise ValueError(f"event is not JSON: {data[:200]!r}") from exc
        if not isinstance(event, dict) or "code" not in event:
            raise ValueError(f"event is not a {{code, message, data}} envelope: {data[:200]!r}")
        if event["code"] != 0:
            raise parse_plugin_error(event)
        chunk = event.get("data")
        if not isinstance(chunk, dict):
            raise ValueError(f"chunk is not a JSON object: {data[:200]!r}")
        chunks.append(chunk)
    return chunks
