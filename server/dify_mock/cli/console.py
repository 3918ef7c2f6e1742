"""What every command prints and reads: NAME=VALUE parameters, the daemon's errors unwrapped, chunks as they
stream, and the log format."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dify_mock.store.redaction import MaskSecretsInLogs


class UsageError(Exception):
    """The command was used wrongly (a parameter, a file, a mock that is not there): `dify-mock: <text>` on one
    line, exit status 2."""


def non_negative(value: str) -> int:
    """An argparse type: a whole number, 0 or more."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r}: give 0 or more")
    return number


def seconds(value: str) -> float:
    """An argparse type: a number of seconds above 0."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value!r}: give a number of seconds above 0")
    return number


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskSecretsInLogs())
        handler.addFilter(_plain_uvicorn_name)


def _plain_uvicorn_name(record: logging.LogRecord) -> bool:
    """uvicorn logs its start and stop as `uvicorn.error`, which reads like a failure: they are `uvicorn` lines."""
    if record.name == "uvicorn.error":
        record.name = "uvicorn"
    return True


def _json_file(name: str, path: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(
            f"{name}:=@{path}: cannot read the file: {error.strerror if isinstance(error, OSError) else error}"
        ) from None


def parse_parameters(items: Sequence[str]) -> dict[str, Any]:
    """NAME=VALUE (a string), NAME:=JSON, and NAME:=@FILE (the file holds the JSON)."""
    parameters: dict[str, Any] = {}
    for item in items:
        if ":=" in item:
            name, raw = item.split(":=", 1)
            if raw.startswith("@") and len(raw) > 1:
                raw = _json_file(name, raw[1:])
            try:
                parameters[name] = json.loads(raw)
            except ValueError as error:
                raise UsageError(f"{name}:= needs JSON ({error}); a string is NAME=VALUE") from None
        elif "=" in item:
            name, value = item.split("=", 1)
            parameters[name] = value
        else:
            raise UsageError(f"parameter {item!r} should be NAME=VALUE or NAME:=JSON")
    return parameters


def describe_error(message: str) -> str:
    """Unwraps the daemon's JSON-in-JSON error messages to the innermost readable text."""
    text: Any = message
    for _ in range(4):
        try:
            parsed = json.loads(text) if isinstance(text, str) else text
        except ValueError:
            break
        if not isinstance(parsed, dict) or "message" not in parsed:
            break
        prefix = f"{parsed['error_type']}: " if parsed.get("error_type") not in (None, "PluginInvokeError") else ""
        text = parsed["message"]
        if not isinstance(text, str) or not text.startswith("{"):
            return f"{prefix}{text}"
    return str(text)


def print_chunk(chunk: Any, as_json: bool, inline: bool) -> bool:
    """Prints one chunk; text pieces run on one line as they stream. Returns whether the line is still open."""
    kind = chunk.get("type") if isinstance(chunk, dict) and not as_json else None
    if kind == "text":
        print(chunk["message"].get("text", ""), end="", flush=True)
        return True
    if inline:
        print()
    if not isinstance(chunk, dict) or as_json:
        print(json.dumps(chunk, ensure_ascii=False))
        return False
    message = chunk.get("message") or {}
    if kind in ("link", "image", "image_link"):
        print(message.get("text", ""))
    elif kind == "json":
        print(json.dumps(message.get("json_object"), ensure_ascii=False, indent=2))
    elif kind == "variable":
        print(f"{message.get('variable_name')} = {json.dumps(message.get('variable_value'), ensure_ascii=False)}")
    elif kind == "log":
        _print_agent_log(message)
    elif kind == "blob_chunk":
        if message.get("end"):
            print(f"[blob {message.get('id')}: {message.get('total_length')} bytes]")
    else:
        print(json.dumps(chunk, ensure_ascii=False))
    return False


AGENT_LOG_WIDTH = 160


def _print_agent_log(message: dict[str, Any]) -> None:
    """An agent strategy's log step, once it has finished: `[ROUND 1] {...}`, nested steps indented."""
    status = message.get("status")
    if status == "start":
        return
    indent = "  " if message.get("parent_id") else ""
    if status == "error" or message.get("error"):
        print(f"{indent}[{message.get('label')}] error: {message.get('error')}")
        return
    data = json.dumps(message.get("data") or {}, ensure_ascii=False)
    if len(data) > AGENT_LOG_WIDTH:
        data = data[: AGENT_LOG_WIDTH - 1] + "…"
    print(f"{indent}[{message.get('label')}] {data}")
