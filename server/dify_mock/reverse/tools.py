"""Reverse tool calls (`session.tool.invoke(...)`): choose the reply, then yield the SDK's ToolInvokeMessages.

Each answer is `{"type", "message", "meta"}` exactly as the SDK's `ToolInvokeMessage` parses it. The SDK picks
the message class by trying each shape in turn (not by `type`), so every body here has exactly the keys of one
class; a blob travels as base64, which the SDK's validator decodes back to bytes.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from dify_mock.answers.replies import (
    BlobToolMessage,
    FileToolMessage,
    ImageToolMessage,
    JsonToolMessage,
    LinkToolMessage,
    LogToolMessage,
    TextToolMessage,
    ToolMessageBase,
    ToolReply,
    VariableToolMessage,
)
from dify_mock.protocol.reverse_call import ReverseCall, ReverseError
from dify_mock.reverse.models import choose_reply

if TYPE_CHECKING:
    from dify_mock.host import Host


def _message(
    kind: str, body: dict[str, Any] | None, meta: dict[str, Any], extra: dict[str, Any] | None
) -> dict[str, Any]:
    merged = {**meta, **(extra or {})}
    return {"type": kind, "message": body, "meta": merged or None}


def render_message(message: ToolMessageBase, number: int) -> dict[str, Any]:
    """One reply message as a ToolInvokeMessage dict; `number` (1-based) names logs without an id."""
    match message:
        case TextToolMessage():
            return _message("text", {"text": message.text}, {}, message.meta)
        case LinkToolMessage():
            return _message("link", {"text": message.url}, {}, message.meta)
        case ImageToolMessage():
            return _message("image", {"text": message.url}, {}, message.meta)
        case JsonToolMessage():
            return _message("json", {"json_object": message.data}, {}, message.meta)
        case BlobToolMessage():
            blob = base64.b64encode(message.data()).decode("ascii")
            return _message("blob", {"blob": blob}, {"mime_type": message.content_type()}, message.meta)
        case VariableToolMessage():
            variable: dict[str, Any] = {
                "variable_name": message.name,
                "variable_value": message.value,
                "stream": message.stream,
            }
            return _message("variable", variable, {}, message.meta)
        case FileToolMessage():
            # Dify's own FileMessage body ({} or {"file_marker": ...}) fails the SDK's parsing; null passes.
            return _message("file", None, {"file": message.file}, message.meta)
        case LogToolMessage():
            log: dict[str, Any] = {
                "id": message.id or f"log_{number}",
                "label": message.label,
                "parent_id": message.parent_id,
                "error": message.error,
                "status": message.status,
                "data": message.data,
                "metadata": message.metadata,
            }
            return _message("log", log, {}, message.meta)
    raise TypeError(f"no rendering for tool message type {message.type!r}")


def render_tool_reply(reply: ToolReply) -> Iterator[dict[str, Any]]:
    for number, message in enumerate(reply.messages, start=1):
        yield render_message(message, number)


async def answer_tool(host: Host, call: ReverseCall) -> AsyncIterator[dict[str, Any]]:
    parameters = call.request.get("tool_parameters", {})
    if not isinstance(parameters, dict):
        raise ReverseError(f"'tool_parameters' must be an object, got {type(parameters).__name__}")
    reply = choose_reply(host, call)
    assert isinstance(reply, ToolReply)
    for message in render_tool_reply(reply):
        yield message
