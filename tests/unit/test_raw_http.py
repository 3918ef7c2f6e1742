"""The endpoint request rewrite against goldens made by Go's real `Request.Write` (golden/make_raw_http_golden.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dify_mock.protocol.raw_http import (
    MAX_BODY_BYTES,
    build_request,
    canonical_header_name,
    endpoint_request,
    reencode_query,
)

GOLDEN = json.loads((Path(__file__).parent / "golden" / "raw_http_requests.json").read_text())


@pytest.mark.parametrize("sample", GOLDEN, ids=[f"{s['method']} {s['path']}" for s in GOLDEN])
def test_endpoint_request_matches_go(sample):
    written = endpoint_request(
        sample["method"],
        sample["path"],
        sample["query"].encode(),
        [(name.encode(), value.encode()) for name, value in sample["headers"]],
        sample["body"].encode(),
        sample["hook_id"],
    )
    assert written.decode() == sample["expected"]


def test_canonical_header_names():
    assert canonical_header_name(b"x-my_header") == b"X-My_header"
    assert canonical_header_name(b"CONTENT-TYPE") == b"Content-Type"
    assert canonical_header_name(b"bad name") == b"bad name"


def test_query_reencoding_drops_what_go_drops():
    assert reencode_query(b"b=2&a=%41&c=1;2&d=%z") == b"a=A&b=2"
    assert reencode_query(b"q=a b&q=%2F") == b"q=a+b&q=%2F"


def test_body_is_cut_at_ten_megabytes():
    written = endpoint_request("POST", "/", b"", [(b"host", b"h")], b"x" * (MAX_BODY_BYTES + 5), "h")
    assert f"Content-Length: {MAX_BODY_BYTES}\r\n".encode() in written
    assert written.endswith(b"x" * 10) and len(written) < MAX_BODY_BYTES + 500


def test_build_request_for_webhooks():
    written = build_request("post", "/hook?x=1", [("content-type", "application/json")], b"{}", "example.com")
    assert written == (
        b"POST /hook?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Go-http-client/1.1\r\n"
        b"Content-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"
    )
