"""Parameters as a user would fill them in, then cast as Dify's API casts them before it calls the plugin.

A value comes from, in order: the user's own (`check --inputs`), the declared `default`, the first option, a value
the placeholder or the description spells out (a JSON literal, "1;2;3", "e.g. us-east-1", a URL), a value the name or description
asks for (a URL, an e-mail, a date, JSON, a number), and last a generic text. Required parameters always get one;
optional ones get only their default, as Dify's form leaves them. Every value then goes through `cast_value`,
which follows Dify's `cast_parameter_value` (`api/core/plugin/entities/parameters.py`), called by
`init_frontend_parameter` from `ToolManager` for every form parameter: numbers become int or float, booleans
bool, selects and strings str, a JSON text of an object or array parameter is parsed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from dify_mock.answers.builtin.schema_sample import sample_for_schema
from dify_mock.check.credentials import SAMPLE_SECRET, SAMPLE_URL

FileFor = Callable[[str], dict[str, Any]]  # parameter name -> the `file` value of a file stored on the mock
SAMPLE_TEXT = "What is the weather in Paris?"
MODEL_TYPES = ("llm", "text-embedding", "rerank", "speech2text", "moderation", "tts", "text2img")
EXAMPLE = re.compile(r"(?:e\.g\.|for example|such as|example:)[\s:,]*['\"`]?([\w./:@+-]*\w)", re.IGNORECASE)
NUMBER_LIST = re.compile(r"\b\d+(?:\s*[;,]\s*\d+)+\b")


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


def parameters_for(
    declared: list[Mapping[str, Any]], file_for: FileFor, given: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`ToolManager`'s form parameters: what the user set (else the default, else a value for a required one),
    each through `init_frontend_parameter` and so `cast_parameter_value`."""
    values: dict[str, Any] = {}
    for parameter in declared:
        name = str(parameter.get("name"))
        kind = str(parameter.get("type") or "string")
        if given is not None and name in given:
            value = given[name]
        elif parameter.get("default") not in (None, ""):
            value = parameter["default"]
        elif parameter.get("required"):
            value = value_for(parameter, file_for)
        else:
            continue
        values[name] = cast_value(kind, value)
    return values


def cast_value(kind: str, value: Any) -> Any:
    """Dify's `cast_parameter_value`, for the types a form sends."""
    if kind in ("string", "secret-input", "select", "text-input", "paragraph"):
        return "" if value is None else value if isinstance(value, str) else str(value)
    if kind == "boolean":
        if isinstance(value, str):
            lowered = value.lower()
            return lowered in ("true", "yes", "y", "1") or (lowered not in ("false", "no", "n", "0") and bool(value))
        return bool(value)
    if kind == "number":
        if isinstance(value, str) and value:
            return float(value) if "." in value else int(value)
        return value
    if kind == "files":
        return value if isinstance(value, list) else [value]
    if kind in ("array", "object") and isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if kind == "array":
            return parsed if isinstance(parsed, list) else [value]
        return parsed if isinstance(parsed, dict) else {}
    return value


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
    if kind in ("object", "array"):
        schema = parameter.get("input_schema")
        if isinstance(schema, Mapping):
            return sample_for_schema(dict(schema), name)
        return {} if kind == "object" else []
    if kind == "date":
        return "2026-01-01"
    if kind == "date-range":
        return ["2026-01-01", "2026-01-31"]
    return text_for(parameter)


def text_for(parameter: Mapping[str, Any]) -> str:
    """A string a user would type, from what the form shows them."""
    name = str(parameter.get("name") or "value").lower()
    placeholder = _english(parameter.get("placeholder"))
    about = " ".join(
        _english(parameter.get(key)) for key in ("human_description", "llm_description", "description", "label")
    )
    hints = f"{placeholder} {about}"
    literal = _json_literal(hints)
    if literal is not None:
        return literal
    numbers = NUMBER_LIST.search(hints)
    if numbers:
        return numbers.group(0)
    example = EXAMPLE.search(hints)
    if example:
        return example.group(1).rstrip(".,;)")
    if re.fullmatch(r"https?://\S+", placeholder):
        return placeholder
    lowered = hints.lower()
    if re.search(r"\bjson ?path\b", lowered) or re.search(r"json_?path", name):
        return "$.name"  # a query into a JSON document, not a document
    if "json" in lowered or "json" in name:
        return json.dumps(["dify-mock"] if re.search(r"\barray\b", lowered) else {"name": "dify-mock"})
    if "url" in name or "link" in name or "endpoint" in name or re.search(r"\burl\b", lowered):
        return SAMPLE_URL
    if "email" in name or "e-mail" in lowered:
        return "someone@example.com"
    if "date" in name:
        return "2026-01-01"
    if re.search(r"\b(number|integer|count|how many)\b", lowered) or name in ("limit", "count", "top_k", "page"):
        return "5"
    if name.endswith("id") or name.endswith("_ids"):
        return "dify-mock-id"
    return SAMPLE_TEXT


def _number(parameter: Mapping[str, Any]) -> int | float:
    low, high = parameter.get("min"), parameter.get("max")
    value: float = 1
    if isinstance(low, int | float) and value < low:
        value = low
    if isinstance(high, int | float) and value > high:
        value = high
    precision = parameter.get("precision")
    return int(value) if float(value).is_integer() and not precision else float(value)


def _english(text: Any) -> str:
    if isinstance(text, Mapping):
        text = text.get("en_US") or next(iter(text.values()), "")
    return str(text or "").strip()


def _json_literal(text: str) -> str | None:
    """The first JSON object or array written out in the text, as written."""
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char in "{[":
            try:
                _, end = decoder.raw_decode(text, start)
            except ValueError:
                continue
            return text[start:end]
    return None
