"""The test harness's event-stream and error parsing, on literal bytes as the dispatch API writes them."""

from __future__ import annotations

import pytest
from dify_mock.testing import (
    PluginError,
    SSEParser,
    decode_chunks,
    parse_plugin_error,
    parse_sse,
    parse_sse_events,
)

TEXT_CHUNK = (
    b'data: {"code":0,"message":"success","data":{"type":"text","message":{"text":"echo: hi"},"meta":null}}\n\n'
)
JSON_CHUNK = (
    b'data: {"code":0,"message":"success","data":{"type":"json","message":{"json_object":{"a":1}},"meta":null}}\n\n'
)
# A plugin's ValueError as the daemon reports it: the plugin's error is JSON inside JSON inside the event.
PLUGIN_ERROR = (
    rb'data: {"code":-500,"message":"{\"message\":\"{\\\"args\\\":{\\\"traceback\\\":\\\"Traceback (most recent'
    rb" call last):\\\\n  boom\\\"},\\\"error_type\\\":\\\"ValueError\\\",\\\"message\\\":\\\"asked to fail\\\"}\","
    rb'\"error_type\":\"PluginInvokeError\",\"args\":null}","data":null}'
) + b"\n\n"
DAEMON_ERROR = (
    rb'data: {"code":-500,"message":"{\"message\":\"failed to write to the plugin: connection reset\",'
    rb'\"error_type\":\"PluginDaemonInternalServerError\",\"args\":null}","data":null}'
) + b"\n\n"


def test_events_are_split_on_blank_lines() -> None:
    assert parse_sse(TEXT_CHUNK + JSON_CHUNK) == [
        '{"code":0,"message":"success","data":{"type":"text","message":{"text":"echo: hi"},"meta":null}}',
        '{"code":0,"message":"success","data":{"type":"json","message":{"json_object":{"a":1}},"meta":null}}',
    ]


def test_crlf_and_cr_line_endings() -> None:
    assert parse_sse(b"data: a\r\n\r\ndata: b\r\rdata: c\n\n") == ["a", "b", "c"]


def test_multiline_data_comments_and_other_fields() -> None:
    body = b": keep-alive\nevent: message\nid: 7\ndata: first\ndata:second\nretry: 10\n\n"
    assert parse_sse(body) == ["first\nsecond"]


def test_only_one_space_after_the_colon_is_dropped() -> None:
    assert parse_sse(b"data:  two spaces\n\n") == [" two spaces"]


def test_blank_lines_without_data_make_no_event() -> None:
    assert parse_sse(b"\n\n\n: comment\n\n") == []


def test_an_unterminated_last_event_is_kept() -> None:
    assert parse_sse(TEXT_CHUNK + b'data: {"code":0,"message":"success","data":{}}') == [
        '{"code":0,"message":"success","data":{"type":"text","message":{"text":"echo: hi"},"meta":null}}',
        '{"code":0,"message":"success","data":{}}',
    ]


def test_utf8_text() -> None:
    assert parse_sse("data: héllo ✓\n\n".encode()) == ["héllo ✓"]


@pytest.mark.parametrize("body", [TEXT_CHUNK + JSON_CHUNK + PLUGIN_ERROR, b"data: a\r\n\r\ndata: b\r\n\r\n"])
def test_feeding_in_pieces_gives_the_same_events(body: bytes) -> None:
    text = body.decode()
    whole = parse_sse(body)
    for cut in range(len(text) + 1):
        parser = SSEParser()
        events = parser.feed(text[:cut]) + parser.feed(text[cut:]) + parser.close()
        assert events == whole, f"cut at {cut}"
    parser = SSEParser()
    one_by_one = [event for char in text for event in parser.feed(char)] + parser.close()
    assert one_by_one == whole


def test_a_cr_at_the_end_of_a_piece_waits_for_a_possible_lf() -> None:
    parser = SSEParser()
    assert parser.feed("data: a\r") == []
    assert parser.feed("\n\r\n") == ["a"]


def test_decode_chunks_unwraps_the_envelopes() -> None:
    assert decode_chunks(parse_sse(TEXT_CHUNK + JSON_CHUNK)) == [
        {"type": "text", "message": {"text": "echo: hi"}, "meta": None},
        {"type": "json", "message": {"json_object": {"a": 1}}, "meta": None},
    ]


def test_decode_chunks_skips_blank_events() -> None:
    assert decode_chunks(["", "  "]) == []


def test_a_plugin_error_is_unwrapped_twice() -> None:
    with pytest.raises(PluginError) as caught:
        decode_chunks(parse_sse(TEXT_CHUNK + PLUGIN_ERROR))
    error = caught.value
    assert error.error_type == "ValueError"
    assert error.message == "asked to fail"
    assert error.args_ == {"traceback": "Traceback (most recent call last):\n  boom"}
    assert error.traceback == "Traceback (most recent call last):\n  boom"
    assert error.daemon_error_type == "PluginInvokeError"
    assert error.code == -500
    assert error.event["data"] is None
    assert str(error) == "ValueError: asked to fail"


def test_a_daemon_error_keeps_the_daemon_error_type() -> None:
    with pytest.raises(PluginError) as caught:
        decode_chunks(parse_sse(DAEMON_ERROR))
    assert caught.value.error_type == "PluginDaemonInternalServerError"
    assert caught.value.message == "failed to write to the plugin: connection reset"
    assert caught.value.args_ == {}


def test_an_error_message_that_is_not_json() -> None:
    error = parse_plugin_error({"code": -500, "message": "killed by timeout", "data": None})
    assert (error.error_type, error.message, error.daemon_error_type) == ("UnknownError", "killed by timeout", None)


def test_an_inner_message_that_is_plain_text() -> None:
    outer = '{"message":"plugin not found","error_type":"PluginNotFoundError","args":{"plugin":"a/b"}}'
    error = parse_plugin_error({"code": -404, "message": outer, "data": None})
    assert (error.error_type, error.message, error.code) == ("PluginNotFoundError", "plugin not found", -404)
    assert error.args_ == {"plugin": "a/b"}


def test_parse_sse_events_keeps_error_events() -> None:
    events = parse_sse_events(TEXT_CHUNK + DAEMON_ERROR)
    assert [event["code"] for event in events] == [0, -500]


@pytest.mark.parametrize(
    "data",
    ["not json", "[1, 2]", '{"no_code": true}', '{"code":0,"message":"success","data":"a string"}'],
)
def test_malformed_events_are_reported(data: str) -> None:
    with pytest.raises(ValueError):
        decode_chunks([data])
