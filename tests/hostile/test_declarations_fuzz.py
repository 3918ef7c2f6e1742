"""Hostile registrations over real sockets: random declarations never take the mock down or let a bad one in."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from dify_mock.protocol.messages import REGISTER_TYPES
from dify_mock.testing import MockServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wire_plugin import WirePlugin

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
declaration_types = st.sampled_from([*REGISTER_TYPES, "bogus"])
messages = st.one_of(
    st.fixed_dictionaries({"type": declaration_types, "data": json_values}).map(lambda m: json.dumps(m).encode()),
    st.binary(max_size=100).filter(lambda b: b"\n" not in b),
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    with MockServer(Path(tmp_path_factory.mktemp("fuzz"))) as mock:
        yield mock


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(messages, max_size=8))
def test_random_registrations_never_register_garbage_nor_crash(server, sequence):
    with socket.create_connection(("127.0.0.1", server.debug_port), timeout=60) as raw:
        raw.sendall(b'{"type":"handshake","data":{"key":"k"}}\n')
        for message in sequence:
            raw.sendall(message + b"\n\n")
        raw.sendall(b'{"type":"end","data":{}}\n\n')
    assert server.http.get("/health/check").status_code == 200
    for plugin in server.plugins():
        manifest = plugin["declaration"]["manifest"]
        assert isinstance(manifest["author"], str) and isinstance(manifest["name"], str)


def test_a_good_plugin_still_registers_after_the_fuzzing(server):
    wire = WirePlugin(server.debug_port)
    wire.register(name="after_fuzz")
    assert server.wait_for_plugin("wire/after_fuzz", timeout=60)
    wire.close()
    assert "Traceback" not in server.log()


def test_declarations_of_the_wrong_shape_are_registered_or_refused_cleanly(server):
    wire = WirePlugin(server.debug_port)
    wire.send({"type": "handshake", "data": {"key": "k"}})
    wire.send({"type": "manifest_declaration", "data": {"author": "wire", "name": "odd_shapes", "version": "1"}})
    wire.send({"type": "tool_declaration", "data": [{"identity": ["not", "a", "dict"], "tools": "nope"}]})
    wire.send({"type": "end", "data": {}})
    assert server.wait_for_plugin("wire/odd_shapes", timeout=60)
    wire.close()
    assert "Traceback" not in server.log()


@pytest.mark.mock_server(extra_args=["--max-line-bytes", "2000"])
def test_a_line_over_the_size_limit_is_dropped_and_the_connection_goes_on(mock_server):
    wire = WirePlugin(mock_server.debug_port)
    wire.send({"type": "handshake", "data": {"key": "k"}})
    wire.send({"type": "manifest_declaration", "data": {"author": "wire", "name": "big", "pad": "x" * 5000}})
    wire.send({"type": "manifest_declaration", "data": {"author": "wire", "name": "small"}})
    wire.send({"type": "tool_declaration", "data": []})
    wire.send({"type": "end", "data": {}})
    assert mock_server.wait_for_plugin("wire/small", timeout=60)
    assert "over the limit of 2000 bytes" in mock_server.log()
    wire.close()
