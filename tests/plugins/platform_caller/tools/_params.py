"""Parameter helpers shared by the platform_caller tools."""

import json
from collections.abc import Mapping
from typing import Any


def get_str(params: Mapping[str, Any], name: str, default: str = "") -> str:
    value = params.get(name)
    return default if value is None or value == "" else str(value)


def get_json(params: Mapping[str, Any], name: str, default: Any) -> Any:
    value = params.get(name)
    if value is None or value == "":
        return default
    return value if isinstance(value, dict | list) else json.loads(value)
