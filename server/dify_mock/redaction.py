"""Secrets never leave the process: anything that looks like a credential is masked before it is kept."""

from __future__ import annotations

import re
from typing import Any

MASK = "***"
SECRET_KEY = re.compile(
    r"^(?:.*[_-])?(?:api[_-]?key|apikey|secret|secret[_-]?key|password|passwd|token|authorization|private[_-]?key)$",
    re.I,
)
CREDENTIAL_CONTAINERS = frozenset({"credentials", "system_credentials", "tool_credentials"})


def redact(value: Any, _inside_credentials: bool = False) -> Any:
    """A copy of `value` with every credential value replaced by `***`."""
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and key in CREDENTIAL_CONTAINERS and isinstance(item, dict):
                result[key] = {name: MASK if secret is not None else None for name, secret in item.items()}
            elif isinstance(key, str) and SECRET_KEY.search(key) and isinstance(item, str | int | float):
                result[key] = MASK
            else:
                result[key] = redact(item)
        return result
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def mask_key(key: str) -> str:
    """Enough of a key to tell keys apart in a log line, never the key itself."""
    return f"{key[:2]}…({len(key)} chars)" if len(key) > 4 else MASK
