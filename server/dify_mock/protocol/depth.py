"""How deep a parsed JSON value nests, measured without recursion: a value nested deeper than the mock's code can
walk (redaction, rendering, the journal all recurse) is refused with a clear error, before any of them sees it."""

from __future__ import annotations

from typing import Any


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` has lists or objects nested more than `limit` levels deep (a bare list or object is 1)."""
    level: list[Any] = [value]
    depth = 0
    while level:
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            return False
        depth += 1
        if depth > limit:
            return True
        level = [child for item in containers for child in (item.values() if isinstance(item, dict) else item)]
    return False


def too_deep(limit: int) -> str:
    return f"the request nests deeper than {limit} levels (--max-json-depth)"
