"""How messages are cut into bytes: newline JSON (TCP, stdio, serverless), server-sent events (dispatch API) and
the length-prefixed frames of Dify's inner API."""

from __future__ import annotations

import struct
from typing import Any

from dify_mock.protocol.messages import dump_bytes

DEFAULT_MAX_LINE_BYTES = 5 * 1024 * 1024  # the daemon's PLUGIN_RUNTIME_MAX_BUFFER_SIZE (stdout lines)
DEFAULT_MAX_FRAME_BYTES = 30 * 1024 * 1024  # the daemon's RESPONSE_MAX_BUFFER_SIZE
FRAME_MAGIC = 0x0F
FRAME_HEADER_LENGTH = 10  # the data length (uint32) and 6 reserved bytes


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
    return dump_bytes(value, newline=True)


def sse_event(value: Any) -> bytes:
    return b"data: " + dump_bytes(value) + b"\n\n"


def transaction_line(value: Any) -> bytes:
    """One host -> plugin envelope in a serverless transaction answer: the daemon ends each with a blank line."""
    return dump_bytes(value) + b"\n\n"


class FrameTooLarge(ValueError):
    """A payload over the frame limit: the daemon would drop the whole stream on reading its header."""


def length_prefixed_frame(payload: bytes, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    """Dify's `length_prefixed_response` frame: magic, reserved, header length, then a 10-byte header holding the
    payload length, all little endian, then the payload."""
    if len(payload) > max_bytes or len(payload) > 0xFFFFFFFF:
        raise FrameTooLarge(f"a frame of {len(payload)} bytes is over the limit of {max_bytes} bytes")
    return struct.pack("<BBHI6x", FRAME_MAGIC, 0, FRAME_HEADER_LENGTH, len(payload)) + payload
