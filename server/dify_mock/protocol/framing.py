"""How messages are cut into bytes: newline JSON (TCP, stdio) and server-sent events (dispatch API)."""

from __future__ import annotations

from typing import Any

from dify_mock.protocol.messages import dumps

DEFAULT_MAX_LINE_BYTES = 32 * 1024 * 1024


class LineTooLong(ValueError):
    """A line grew past the limit; it is dropped up to its newline."""


class LineSplitter:
    """Splits a byte stream on `\\n`, skipping blank lines (plugins end messages with `\\n\\n`)."""

    __slots__ = ("_buffer", "_discarding", "max_line_bytes")

    def __init__(self, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._buffer = bytearray()
        self._discarding = False
        self.max_line_bytes = max_line_bytes

    def feed(self, data: bytes) -> tuple[list[bytes], list[LineTooLong]]:
        """Returns the complete lines in `data` and one error for each line that was too long."""
        lines: list[bytes] = []
        errors: list[LineTooLong] = []
        start = 0
        while True:
            newline = data.find(b"\n", start)
            if newline < 0:
                break
            if self._discarding:
                self._discarding = False
            else:
                piece = data[start:newline]
                if self._buffer:
                    self._buffer += piece
                    piece = bytes(self._buffer)
                    self._buffer.clear()
                if len(piece) > self.max_line_bytes:
                    errors.append(self._too_long(len(piece)))
                elif piece.strip():
                    lines.append(piece)
            start = newline + 1
        if start < len(data) and not self._discarding:
            self._buffer += data[start:]
            if len(self._buffer) > self.max_line_bytes:
                errors.append(self._too_long(len(self._buffer)))
                self._buffer.clear()
                self._discarding = True
        return lines, errors

    def _too_long(self, size: int) -> LineTooLong:
        return LineTooLong(f"line of {size} bytes or more is over the limit of {self.max_line_bytes} bytes")


def json_line(value: Any) -> bytes:
    return dumps(value).encode() + b"\n"


def sse_event(value: Any) -> bytes:
    return b"data: " + dumps(value).encode() + b"\n\n"
