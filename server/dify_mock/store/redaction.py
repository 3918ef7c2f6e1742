"""Secrets never leave the process: anything that looks like a credential is masked before it is kept."""

from __future__ import annotations

import functools
import re
from typing import Any

MASK = "***"
SECRET_KEY = re.compile(
    r"^(?:.*[_-])?(?:api[_-]?key|apikey|secret|secret[_-]?key|password|passwd|token|authorization|private[_-]?key)$",
    re.I,
)
CREDENTIAL_CONTAINERS = frozenset({"credentials", "system_credentials", "tool_credentials"})


@functools.lru_cache(maxsize=4096)
def _masking(key: str) -> int:
    """0: an ordinary key; 1: its value is a secret; 2: its value is a mapping of credentials."""
    if key in CREDENTIAL_CONTAINERS:
        return 2
    return 1 if SECRET_KEY.search(key) else 0


def redact(value: Any) -> Any:
    """A copy of `value` with every credential value replaced by `***`."""
    if type(value) is dict:
        result: dict[str, Any] = {}
        for key, item in value.items():
            masking = _masking(key) if type(key) is str else 0
            if masking == 0:
                result[key] = redact(item) if type(item) in _CONTAINERS else item
            elif masking == 2 and isinstance(item, dict):
                result[key] = {name: MASK if secret is not None else None for name, secret in item.items()}
            elif masking == 1 and isinstance(item, str | int | float):
                result[key] = MASK
            else:
                result[key] = redact(item)
        return result
    if type(value) is list:
        return [redact(item) if type(item) in _CONTAINERS else item for item in value]
    if isinstance(value, dict | list):  # subclasses, rarely
        return redact(dict(value) if isinstance(value, dict) else list(value))
    return value


_CONTAINERS = frozenset({dict, list})


def mask_key(key: str) -> str:
    """Enough of a key to tell keys apart in a log line, never the key itself."""
    return f"{key[:2]}…({len(key)} chars)" if len(key) > 4 else MASK
