"""JSON as the mock writes it on the wire and into the journal: compact UTF-8, whatever the value holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from dify_mock.protocol.messages import dump_bytes, dumps
from dify_mock.store.journal_sqlite import dump_json


def test_the_wire_is_compact_utf8_and_reads_back_the_same() -> None:
    value = {"text": "héllo ✓", "n": [1, 2.5, None, True], "nested": {"a": {}}}
    assert dump_bytes(value) == '{"text":"héllo ✓","n":[1,2.5,null,true],"nested":{"a":{}}}'.encode()
    assert json.loads(dumps(value)) == value


def test_what_orjson_refuses_is_still_written() -> None:
    huge = 2**70
    assert json.loads(dump_bytes({"big": huge})) == {"big": huge}
    assert json.loads(dump_bytes({1: "one"})) == {"1": "one"}
    assert json.loads(dump_json({"big": huge, "when": datetime(2026, 1, 2, tzinfo=UTC)}))["big"] == huge


def test_the_journal_writes_what_json_cannot_hold_as_text() -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque!"

    assert json.loads(dump_json({"thing": Opaque(), "set": {1}})) == {"thing": "opaque!", "set": "{1}"}
