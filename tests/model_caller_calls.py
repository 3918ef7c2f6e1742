"""What the end-to-end model tests share: calling a model_caller tool, and a WAV file to transcribe."""

from __future__ import annotations

import io
import wave
from typing import Any

from dify_mock.testing import MockServer, PluginProcess


def result(mock: MockServer, plugin: PluginProcess, tool: str, **parameters: Any) -> Any:
    """The JSON message the model_caller tool yields."""
    messages = mock.invoke_tool(plugin.plugin_id, "model_caller", tool, parameters)
    found = [m["message"]["json_object"] for m in messages if m["type"] == "json"]
    assert found, f"{tool} yielded no json message: {messages}"
    return found[0]


def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV of a constant level, `seconds` long."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x10" * int(seconds * rate))
    return buffer.getvalue()
