"""The text of prompt messages, one definition for matching and for built-in answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def message_text(message: Mapping[str, Any]) -> str:
    """A string content, or the text parts of a list content joined by newlines."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["data"]
            for part in content
            if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("data"), str)
        )
    return ""
