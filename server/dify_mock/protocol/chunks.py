"""The daemon's check of each chunk a plugin streams back for a tool (and an agent strategy, whose messages are
tool messages): it decodes the chunk into its Go struct, ToolResponseChunk, and validates `type`. A chunk that fails
ends the stream with an `unmarshal_error`, in Go's words (encoding/json, then go-playground/validator)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

TOOL_MESSAGE_TYPES = frozenset(
    {
        "text",
        "file",
        "blob",
        "blob_chunk",
        "json",
        "link",
        "image",
        "image_link",
        "binary_link",
        "variable",
        "log",
        "retriever_resources",
    }
)
VALIDATED_ACTIONS = frozenset({"invoke_tool"})
LLM_ACTIONS = frozenset({"invoke_llm"})


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def tool_chunk_error(chunk: Any) -> str | None:
    """Why the daemon refuses this tool message, or None."""
    if not isinstance(chunk, dict):
        return f"json: cannot unmarshal {_json_kind(chunk)} into Go value of type tool_entities.ToolResponseChunk"
    kind = chunk.get("type")
    if kind is not None and not isinstance(kind, str):
        return (
            f"json: cannot unmarshal {_json_kind(kind)} into Go struct field ToolResponseChunk.type of type "
            "tool_entities.ToolResponseChunkType"
        )
    for name in ("message", "meta"):
        value = chunk.get(name)
        if value is not None and not isinstance(value, dict):
            return (
                f"json: cannot unmarshal {_json_kind(value)} into Go struct field ToolResponseChunk.{name} of type "
                "map[string]interface {}"
            )
    if not kind:
        tag = "required"
    elif kind not in TOOL_MESSAGE_TYPES:
        tag = "is_valid_tool_response_chunk_type"
    else:
        return None
    return f"Key: 'ToolResponseChunk.Type' Error:Field validation for 'Type' failed on the '{tag}' tag"


def _go_decimal(value: Any) -> Any:
    """A price as Go's decimal.Decimal writes it again: no trailing zeros."""
    if not isinstance(value, str):
        return value
    try:
        return format(Decimal(value).normalize(), "f")
    except InvalidOperation:
        return value


def as_go_llm_chunk(chunk: dict[str, Any]) -> dict[str, Any]:
    """An LLM result chunk as the daemon encodes it again from its Go struct (LLMResultChunk): absent or null
    strings become "" (`system_fingerprint`, a message's `name` and `tool_call_id`), prices lose trailing zeros."""
    delta = chunk.get("delta")
    if not isinstance(delta, dict):
        return chunk
    message = delta.get("message")
    if isinstance(message, dict):
        message = {**message, "name": message.get("name") or "", "tool_call_id": message.get("tool_call_id") or ""}
        delta = {**delta, "message": message}
    usage = delta.get("usage")
    if isinstance(usage, dict):
        delta = {
            **delta,
            "usage": {key: _go_decimal(value) if "price" in key else value for key, value in usage.items()},
        }
    return {**chunk, "system_fingerprint": chunk.get("system_fingerprint") or "", "delta": delta}


def as_relayed_chunk(action: str, chunk: Any) -> tuple[dict[str, str] | None, Any]:
    """(the error the daemon ends the stream with, None) for a chunk of `action` it refuses, or (None, the chunk as
    the daemon passes it on: a tool message re-encoded from its struct, `type`, `message`, `meta` and nothing else)."""
    if action in LLM_ACTIONS and isinstance(chunk, dict):
        return None, as_go_llm_chunk(chunk)
    if action not in VALIDATED_ACTIONS:
        return None, chunk
    refused = tool_chunk_error(chunk)
    if refused is not None:
        return {"error_type": "unmarshal_error", "message": f"unmarshal json failed: {refused}"}, None
    return None, {"type": chunk["type"], "message": chunk.get("message"), "meta": chunk.get("meta")}
