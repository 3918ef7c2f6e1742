"""Parameters and credentials that a plugin's own declarations allow, made up for one invocation each.

Required parameters always get a value; optional ones get their declared default. A value is what Dify's form
would send: the first `select` option, a number within `min` and `max`, a file stored on the mock (`file_for`
makes one), a model selector for the mock's own model.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dify_mock.answers.builtin.schema_sample import sample_for_schema

FileFor = Callable[[str], dict[str, Any]]  # parameter name -> the `file` value of a file stored on the mock
SAMPLE_TEXT = "What is the weather in Paris?"
SAMPLE_URL = "https://example.com/"
SAMPLE_SECRET = "dify-mock-check-secret"
MODEL_TYPES = (
    "llm",
    "text-embedding",
    "rerank",
    "speech2text",
    "moderation",
    "tts",
    "text2img",
)  # a scope's others are features


def model_selector(model_type: str = "llm") -> dict[str, Any]:
    """A `model-selector` value for a model the mock answers itself (no context size: no tiktoken download)."""
    label = {"en_US": "dify-mock-model"}
    return {
        "provider": "langgenius/openai/openai",
        "model": "dify-mock-model",
        "model_type": model_type,
        "mode": "chat",
        "completion_params": {},
        "history_prompt_messages": [],
        "entity": {
            "model": "dify-mock-model",
            "label": label,
            "model_type": model_type,
            "features": ["tool-call", "multi-tool-call", "stream-tool-call"],
            "model_properties": {"mode": "chat"},
            "parameter_rules": [],
        },
    }


def parameters_for(declared: list[Mapping[str, Any]], file_for: FileFor) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for parameter in declared:
        name = str(parameter.get("name"))
        if parameter.get("default") is not None:
            values[name] = parameter["default"]
        elif parameter.get("required"):
            values[name] = value_for(parameter, file_for)
    return values


def credentials_for(schema: list[Mapping[str, Any]] | Mapping[str, Any] | None) -> dict[str, Any]:
    """Values for a provider's credentials form, as a user would fill it in: the required fields and the defaults.
    The real services are out of reach, so any value of the type."""
    fields = list(schema.values()) if isinstance(schema, Mapping) else list(schema or [])
    values: dict[str, Any] = {}
    for field in fields:
        if not isinstance(field, Mapping) or not (field.get("name") or field.get("variable")):
            continue
        name = str(field.get("name") or field.get("variable"))  # model providers' forms say `variable`
        if field.get("default") not in (None, ""):
            values[name] = field["default"]
        elif field.get("required"):
            values[name] = value_for(field, lambda _: {})
    return values


def value_for(parameter: Mapping[str, Any], file_for: FileFor) -> Any:
    kind = str(parameter.get("type") or "string")
    name = str(parameter.get("name") or "value")
    options = [option.get("value") for option in parameter.get("options") or [] if isinstance(option, Mapping)]
    if kind in ("select", "dynamic-select"):
        first = options[0] if options else "option"
        return [first] if parameter.get("multiple") else first
    if kind == "number":
        return _number(parameter)
    if kind in ("boolean", "checkbox"):
        return True
    if kind == "secret-input":
        return SAMPLE_SECRET
    if kind == "file":
        return file_for(name)
    if kind == "files":
        return [file_for(name)]
    if kind == "model-selector":
        scope = str(parameter.get("scope") or "llm").split("&")
        return model_selector(next((part for part in scope if part in MODEL_TYPES), "llm"))
    if kind == "app-selector":
        return {"app_id": "dify-mock-app", "inputs": {}, "files": []}
    if kind in ("array[tools]", "tools-selector"):
        return []
    if kind == "object":
        schema = parameter.get("input_schema")
        return sample_for_schema(dict(schema), name) if isinstance(schema, Mapping) else {}
    if kind == "array":
        schema = parameter.get("input_schema")
        return sample_for_schema(dict(schema), name) if isinstance(schema, Mapping) else []
    if kind == "date":
        return "2026-01-01"
    if kind == "date-range":
        return ["2026-01-01", "2026-01-31"]
    return _string(name)


def _number(parameter: Mapping[str, Any]) -> int | float:
    low, high = parameter.get("min"), parameter.get("max")
    value: float = 1
    if isinstance(low, int | float) and value < low:
        value = low
    if isinstance(high, int | float) and value > high:
        value = high
    precision = parameter.get("precision")
    return int(value) if float(value).is_integer() and not precision else float(value)


def _string(name: str) -> str:
    lowered = name.lower()
    if "url" in lowered or "link" in lowered or "endpoint" in lowered:
        return SAMPLE_URL
    if "email" in lowered:
        return "someone@example.com"
    if lowered.endswith("id") or lowered.endswith("_ids"):
        return "dify-mock-id"
    return SAMPLE_TEXT
