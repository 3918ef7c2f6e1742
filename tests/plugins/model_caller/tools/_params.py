"""Parameter coercion shared by the model_caller tools.

The SDK does not apply the defaults declared in the tool YAML (Dify fills them in before dispatching), and a
test may send booleans and numbers as strings, so every tool reads its parameters through these helpers.
"""

from collections.abc import Mapping
from typing import Any

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def get_str(params: Mapping[str, Any], name: str, default: str = "") -> str:
    value = params.get(name)
    if value is None:
        return default
    return str(value)


def get_optional_str(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    return str(value)


def get_bool(params: Mapping[str, Any], name: str, default: bool) -> bool:
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"parameter {name!r} is not a boolean: {value!r}")


def get_optional_float(params: Mapping[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    return float(value)


def get_optional_int(params: Mapping[str, Any], name: str) -> int | None:
    value = get_optional_float(params, name)
    return None if value is None else int(value)


def split_lines(text: str) -> list[str]:
    """Non-empty lines of `text`, stripped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def split_csv(text: str | None) -> list[str] | None:
    """Comma-separated items (stripped, non-empty), or None when there are none."""
    if not text:
        return None
    items = [item.strip() for item in text.split(",") if item.strip()]
    return items or None


def model_and_provider(params: Mapping[str, Any], model: str, provider: str = "openai") -> tuple[str, str]:
    return get_str(params, "model", model) or model, get_str(params, "provider", provider) or provider


def jsonable(value: Any) -> Any:
    """A pydantic model (or anything else) as plain JSON data; Decimals become strings."""
    if value is None:
        return None
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    return value
