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


MASKING_CACHE_SIZE = 4096
_masking_of: dict[str, int] = {}  # a plain dict: a lookup per key is most of what redact() costs


def _masking(key: str) -> int:
    """0: an ordinary key; 1: its value is a secret; 2: its value is a mapping of credentials."""
    masking = 2 if key in CREDENTIAL_CONTAINERS else 1 if SECRET_KEY.search(key) else 0
    if len(_masking_of) < MASKING_CACHE_SIZE:
        _masking_of[key] = masking
    return masking


def redact(value: Any) -> Any:
    """A copy of `value` with every credential value replaced by `***`."""
    if type(value) is dict:
        result: dict[str, Any] = {}
        for key, item in value.items():
            masking = _masking_of.get(key) if type(key) is str else 0
            if masking is None:
                masking = _masking(key)
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
