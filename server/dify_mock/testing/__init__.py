"""Drive a running dify-mock from tests: the client (`MockServer`, `PluginProcess`) and the pytest plugin."""

from dify_mock.testing.errors import PluginError, parse_plugin_error
from dify_mock.testing.processes import PluginProcess
from dify_mock.testing.server import DEFAULT_REMOTE_KEY, DEFAULT_TENANT, PLUGIN_PYTHON_ENV, MockServer
from dify_mock.testing.sse import SSEParser, decode_chunks, parse_sse, parse_sse_events

__all__ = [
    "DEFAULT_REMOTE_KEY",
    "DEFAULT_TENANT",
    "PLUGIN_PYTHON_ENV",
    "MockServer",
    "PluginError",
    "PluginProcess",
    "SSEParser",
    "decode_chunks",
    "parse_plugin_error",
    "parse_sse",
    "parse_sse_events",
]
