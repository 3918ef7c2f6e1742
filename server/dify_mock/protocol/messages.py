"""The messages plugins and hosts exchange, in the shapes the SDK and the daemon use. No I/O here."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

ENVELOPE_KEYS = ("conversation_id", "message_id", "app_id", "endpoint_id", "context")

REGISTER_TYPES = (
    "handshake",
    "manifest_declaration",
    "tool_declaration",
    "model_declaration",
    "endpoint_declaration",
    "agent_strategy_declaration",
    "datasource_declaration",
    "trigger_declaration",
    "asset_chunk",
    "end",
)

DECLARATION_KINDS = {
    "tool_declaration": "tools",
    "model_declaration": "models",
    "endpoint_declaration": "endpoints",
    "agent_strategy_declaration": "agent_strategies",
    "datasource_declaration": "datasources",
    "trigger_declaration": "triggers",
}


class ProtocolError(ValueError):
    """A message that does not follow the protocol; the text says what was wrong."""


@dataclass(frozen=True, slots=True)
class PluginEvent:
    """A universal event from a plugin: `session`, `heartbeat`, `error` or `log`."""

    event: str
    session_id: str | None
    data: Any


@dataclass(frozen=True, slots=True)
class SessionMessage:
    """`data` of a `session` event: `stream`, `invoke`, `error` or `end`."""

    type: str
    data: Any


@dataclass(frozen=True, slots=True)
class BackwardsInvoke:
    """A reverse call the plugin makes while serving a session."""

    type: str
    backwards_request_id: str
    request: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RegisterMessage:
    """One message of the remote-debug registration phase."""

    type: str
    data: Any


def dump_bytes(value: Any, default: Callable[[Any], Any] | None = None, *, newline: bool = False) -> bytes:
    """Compact UTF-8 JSON; `default` turns what JSON cannot hold into what it can. orjson writes it several times
    faster than the json module, which still takes what orjson refuses (integers beyond 64 bits). With `newline`,
    the bytes end with `\\n`, written in place: a large message is never copied to add it."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_APPEND_NEWLINE if newline else 0)
    try:
        return orjson.dumps(value, default=default, option=option)
    except TypeError:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=default)
        return (text + "\n" if newline else text).encode()


def dumps(value: Any) -> str:
    return dump_bytes(value).decode()


def load_json(text: bytes | bytearray | str) -> Any:
    """JSON text as Python values: orjson reads it several times faster; the json module reads what orjson refuses
    and Go's encoding/json takes (integers beyond 64 bits, nesting past orjson's 1024 levels), so both accept the
    same lines."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _load_object(line: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = load_json(line)
    except (ValueError, RecursionError) as error:
        raise ProtocolError(f"{what} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def parse_register_message(line: bytes | str) -> RegisterMessage:
    message = _load_object(line, "registration message")
    kind = message.get("type")
    if kind not in REGISTER_TYPES:
        raise ProtocolError(f"unknown registration message type {kind!r}; expected one of {', '.join(REGISTER_TYPES)}")
    if "data" not in message:
        raise ProtocolError(f"registration message {kind!r} has no 'data'")
    return RegisterMessage(type=kind, data=message["data"])


def parse_plugin_event(line: bytes | str) -> PluginEvent:
    message = _load_object(line, "plugin message")
    event = message.get("event")
    if event not in ("session", "heartbeat", "error", "log"):
        raise ProtocolError(f"unknown plugin event {event!r}; expected session, heartbeat, error or log")
    session_id = message.get("session_id")
    if session_id is not None and not isinstance(session_id, str):
        raise ProtocolError("'session_id' must be a string or null")
    if event == "session" and not session_id:
        raise ProtocolError("a session event needs a 'session_id'")
    return PluginEvent(event=event, session_id=session_id, data=message.get("data"))


def parse_session_message(data: Any) -> SessionMessage:
    if not isinstance(data, dict) or "type" not in data or "data" not in data:
        raise ProtocolError("a session message must be an object with 'type' and 'data'")
    kind = data["type"]
    if kind not in ("stream", "invoke", "error", "end"):
        raise ProtocolError(f"unknown session message type {kind!r}; expected stream, invoke, error or end")
    return SessionMessage(type=kind, data=data["data"])


def parse_backwards_invoke(data: Any) -> BackwardsInvoke:
    if not isinstance(data, dict):
        raise ProtocolError("an invoke message must be an object")
    missing = [key for key in ("type", "backwards_request_id", "request") if key not in data]
    if missing:
        raise ProtocolError(f"invoke message is missing {', '.join(missing)}")
    if not isinstance(data["request"], dict):
        raise ProtocolError("invoke 'request' must be an object")
    if not isinstance(data["type"], str) or not isinstance(data["backwards_request_id"], str):
        raise ProtocolError("invoke 'type' and 'backwards_request_id' must be strings")
    return BackwardsInvoke(
        type=data["type"], backwards_request_id=data["backwards_request_id"], request=data["request"]
    )


def host_envelope(session_id: str, event: str, data: Any, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """A host -> plugin message, with every key the daemon always writes."""
    envelope: dict[str, Any] = {"session_id": session_id}
    for key in ENVELOPE_KEYS:
        envelope[key] = fields.get(key) if fields else None
    envelope["event"] = event
    envelope["data"] = data
    return envelope


def backwards_response(request_id: str, event: str, message: str = "", data: Any = None) -> dict[str, Any]:
    """`data` of a `backwards_response` envelope: event is response, error or end."""
    return {"backwards_request_id": request_id, "event": event, "message": message, "data": data}


def plugin_error_text(error: Any) -> str:
    """A short human line for a plugin's session error object."""
    if isinstance(error, dict):
        return f"{error.get('error_type', 'Error')}: {error.get('message', '')}"
    return str(error)
