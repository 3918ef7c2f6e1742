"""Property tests of the pure wire layer: whatever bytes arrive, the parsers answer or refuse, never crash."""

from __future__ import annotations

import json

from dify_mock.protocol.framing import LineSplitter, LineTooLong
from dify_mock.protocol.messages import (
    ProtocolError,
    parse_backwards_invoke,
    parse_plugin_event,
    parse_register_message,
    parse_session_message,
)
from hypothesis import given, settings
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@given(st.lists(st.binary(max_size=200).filter(lambda b: b"\n" not in b), max_size=20), st.data())
def test_lines_survive_any_split_into_segments(lines, data):
    stream = b"".join(line + b"\n\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    splitter = LineSplitter(max_line_bytes=1000)
    received: list[bytes] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got, errors = splitter.feed(stream[start:end])
        assert errors == []
        received += got
    assert received == [line for line in lines if line.strip()]


@given(st.integers(8, 50), st.binary(min_size=1, max_size=300).filter(lambda b: b"\n" not in b))
def test_a_line_over_the_limit_is_dropped_and_the_next_one_kept(limit, long_line):
    splitter = LineSplitter(max_line_bytes=limit)
    pieces = [long_line[i : i + 7] for i in range(0, len(long_line), 7)]
    errors: list[LineTooLong] = []
    lines: list[bytes] = []
    for piece in [*pieces, b"\n", b'{"ok":1}\n']:
        got, failed = splitter.feed(piece)
        lines += got
        errors += failed
    assert lines[-1] == b'{"ok":1}'
    if len(long_line) > limit:
        assert len(errors) == 1 and long_line not in lines
    else:
        assert errors == []


@settings(max_examples=300)
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_every_parser_answers_or_raises_protocol_error(raw):
    for parse in (parse_plugin_event, parse_register_message):
        try:
            parse(raw)
        except ProtocolError as error:
            assert str(error)


@given(json_values)
def test_session_and_invoke_parsers_refuse_with_a_reason(value):
    for parse in (parse_session_message, parse_backwards_invoke):
        try:
            parse(value)
        except ProtocolError as error:
            assert str(error)


def test_deeply_nested_json_is_refused_not_fatal():
    deep = b"[" * 100_000 + b"]" * 100_000
    for parse in (parse_plugin_event, parse_register_message):
        try:
            parse(deep)
        except ProtocolError as error:
            assert "JSON" in str(error)


def test_invalid_utf8_is_refused():
    try:
        parse_plugin_event(b'{"event": "heartbeat", "data": "\xff\xfe"}')
    except ProtocolError as error:
        assert "JSON" in str(error)
