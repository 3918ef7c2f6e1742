"""A dispatch that ended in an error, with the daemon's nested error messages unwrapped."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx


class PluginError(Exception):
    """A dispatch that ended with an error event (`code` != 0, usually -500).

    The daemon nests the plugin's own error twice: the event's `message` is a JSON string
    `{"message", "error_type", "args"}` (the daemon's error, e.g. `PluginInvokeError`) whose `message` is again
    a JSON string holding what the plugin sent: `{"error_type", "message", "args"}`. Both levels are unwrapped;
    when a level is not JSON, the innermost readable level is reported.
    """

    def __init__(
        self,
        error_type: str,
        message: str,
        args_: Mapping[str, Any] | None = None,
        *,
        code: int = -500,
        daemon_error_type: str | None = None,
        event: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.args_: dict[str, Any] = dict(args_ or {})
        self.code = code
        self.daemon_error_type = daemon_error_type
        self.event: dict[str, Any] = dict(event or {})

    @property
    def traceback(self) -> str | None:
        """The plugin-side traceback the SDK puts in `args.traceback`, if any."""
        value = self.args_.get("traceback")
        return value if isinstance(value, str) else None


def _json_object(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _as_dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def parse_plugin_error(event: Mapping[str, Any]) -> PluginError:
    """Build a PluginError from one decoded error event `{"code", "message", "data"}`."""
    code = event.get("code")
    code = code if isinstance(code, int) else -500
    raw_message = event.get("message")
    outer = _json_object(raw_message)
    if outer is None:
        return PluginError("UnknownError", str(raw_message), code=code, event=event)

    outer_type = str(outer.get("error_type") or "UnknownError")
    outer_message = outer.get("message")
    inner = _json_object(outer_message)
    if inner is None or "error_type" not in inner:
        return PluginError(
            outer_type,
            str(outer_message),
            _as_dict(outer.get("args")),
            code=code,
            daemon_error_type=outer_type,
            event=event,
        )
    return PluginError(
        str(inner.get("error_type")),
        str(inner.get("message", "")),
        _as_dict(inner.get("args")),
        code=code,
        daemon_error_type=outer_type,
        event=event,
    )


def raise_plugin_error_from_json(response: httpx.Response) -> None:
    """Plain-JSON routes (model polling) report a plugin's own error as HTTP 500 with the -500 envelope."""
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict) and body.get("code") == -500:
        error = parse_plugin_error(body)
        if error.daemon_error_type == "PluginInvokeError":
            raise error
