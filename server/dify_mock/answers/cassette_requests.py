"""A reverse call's request as a cassette keeps it and replay compares it: credentials redacted, long audio and
images replaced by their digest, ignored fields left out, differences named field by field."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable
from typing import Any

import yaml

from dify_mock.store.redaction import redact

LONG_BINARY = 256
_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _digest(text: str) -> str:
    return f"sha256:{hashlib.sha256(text.encode()).hexdigest()[:16]} ({len(text)} chars)"


def normalise(invoke_type: str, request: dict[str, Any]) -> dict[str, Any]:
    """The request as a cassette keeps it: credentials masked, binary payloads replaced by a digest."""
    data: dict[str, Any] = redact(request)  # redact copies every dict and list
    if invoke_type == "speech2text" and isinstance(data.get("file"), str):
        data["file"] = _digest(data["file"])
    for message in data.get("prompt_messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict) and len(str(part.get("base64_data") or "")) > LONG_BINARY:
                part["base64_data"] = _digest(part["base64_data"])
    documents = [d for key in ("documents", "docs") for d in data.get(key) or [] if isinstance(d, dict)]
    query = data.get("query")
    for item in [*documents, *([query] if isinstance(query, dict) else [])]:
        binary = item.get("content_type") not in (None, "text")
        if binary and len(str(item.get("content") or "")) > LONG_BINARY:
            item["content"] = _digest(str(item["content"]))
    return data


def without(data: Any, paths: Iterable[str]) -> Any:
    """A copy of `data` without the fields at these dotted paths (`*` matches any key or index)."""
    result = copy.deepcopy(data)
    for path in paths:
        _drop(result, [part for part in path.split(".") if part])
    return result


def _drop(data: Any, parts: list[str]) -> None:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if isinstance(data, dict):
        keys = list(data) if head == "*" else [head] if head in data else []
        for key in keys:
            if rest:
                _drop(data[key], rest)
            else:
                del data[key]
    elif isinstance(data, list):
        indexes = range(len(data)) if head == "*" else [int(head)] if head.isdigit() and int(head) < len(data) else []
        for index in sorted(indexes, reverse=True):
            if rest:
                _drop(data[index], rest)
            else:
                del data[index]


def canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _leaves(data: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(data, dict):
        out: dict[str, str] = {}
        for key, value in data.items():
            out.update(_leaves(value, f"{prefix}.{key}" if prefix else str(key)))
        return out or {prefix: "{}"}
    if isinstance(data, list):
        out = {}
        for index, value in enumerate(data):
            out.update(_leaves(value, f"{prefix}[{index}]"))
        return out or {prefix: "[]"}
    return {prefix: canonical(data)}


def differing_fields(recorded: Any, given: Any) -> list[str]:
    a, b = _leaves(recorded), _leaves(given)
    return sorted(key for key in a.keys() | b.keys() if a.get(key) != b.get(key))


def yaml_block(data: Any) -> str:
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return text
