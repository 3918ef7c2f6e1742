"""sample_for_schema gives values that a JSON Schema accepts, the same ones every time."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from enum import Enum
from typing import Any, Literal

import pytest
from dify_mock.answers.builtin.schema_sample import sample_for_schema
from pydantic import BaseModel, Field


def schema_errors(value: Any, schema: Any, root: dict[str, Any] | None = None, path: str = "$") -> list[str]:
    """A small JSON Schema checker for the keywords the sampler claims to honour."""
    root = root if root is not None else schema
    if schema is True or schema == {}:
        return []
    if schema is False:
        return [f"{path}: no value is allowed"]
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        return schema_errors(value, target, root, path) + schema_errors(value, siblings, root, path)
    errors: list[str] = []
    for part in schema.get("allOf", []):
        errors += schema_errors(value, part, root, path)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            passing = [b for b in schema[key] if not schema_errors(value, b, root, path)]
            if not passing or (key == "oneOf" and len(passing) > 1):
                errors.append(f"{path}: {key} fails")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: not the const")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in enum")
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "null": lambda v: v is None,
        }
        if not any(checks[k](value) for k in kinds):
            return [*errors, f"{path}: {value!r} is not {kinds}"]
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}: missing {name}")
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                errors += schema_errors(item, properties[name], root, f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected {name}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", math.inf):
            errors.append(f"{path}: {len(value)} items")
        prefix = schema.get("prefixItems", [])
        for i, item in enumerate(value):
            sub = prefix[i] if i < len(prefix) else schema.get("items", {})
            errors += schema_errors(item, sub, root, f"{path}[{i}]")
        if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
            errors.append(f"{path}: items are not unique")
    if isinstance(value, str):
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", math.inf):
            errors.append(f"{path}: length {len(value)}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
        errors += format_errors(value, schema.get("format"), path)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < schema.get("minimum", -math.inf) or value > schema.get("maximum", math.inf):
            errors.append(f"{path}: {value} out of range")
        if value <= schema.get("exclusiveMinimum", -math.inf) or value >= schema.get("exclusiveMaximum", math.inf):
            errors.append(f"{path}: {value} out of the open range")
        if "multipleOf" in schema and not math.isclose(value / schema["multipleOf"] % 1, 0, abs_tol=1e-9):
            errors.append(f"{path}: {value} not a multiple of {schema['multipleOf']}")
    return errors


def format_errors(value: str, fmt: str | None, path: str) -> list[str]:
    try:
        if fmt == "date":
            date.fromisoformat(value)
        elif fmt == "date-time":
            assert "T" in value
            datetime.fromisoformat(value)
        elif fmt == "email":
            assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", value)
        elif fmt == "uri":
            assert re.fullmatch(r"https?://[^\s/]+(/\S*)?", value)
    except (AssertionError, ValueError):
        return [f"{path}: {value!r} is not a {fmt}"]
    return []


KITCHEN_SINK: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
            "required": ["street", "zip"],
            "additionalProperties": False,
        }
    },
    "definitions": {"level": {"type": "integer", "minimum": 1, "maximum": 3}},
    "properties": {
        "city": {"type": "string"},
        "query": {"type": "string", "minLength": 3},
        "code": {"type": "string", "minLength": 5, "maxLength": 8},
        "unit": {"enum": ["celsius", "fahrenheit"]},
        "version": {"const": 2},
        "mode": {"type": "string", "default": "fast"},
        "days": {"type": "integer", "minimum": 10, "maximum": 12},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "step": {"type": "integer", "multipleOf": 7, "minimum": 30},
        "flag": {"type": "boolean"},
        "nothing": {"type": "null"},
        "maybe": {"type": ["string", "null"]},
        "choice": {"anyOf": [{"type": "integer", "minimum": 5}, {"type": "string"}]},
        "one": {"oneOf": [{"type": "null"}, {"type": "boolean"}]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3, "uniqueItems": True},
        "empty": {"type": "array", "items": {"type": "string"}, "maxItems": 0},
        "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
        "home": {"$ref": "#/$defs/address"},
        "level": {"$ref": "#/definitions/level"},
        "when": {"type": "string", "format": "date"},
        "stamp": {"type": "string", "format": "date-time"},
        "email": {"type": "string", "format": "email"},
        "site": {"type": "string", "format": "uri"},
        "both": {"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"required": ["b"]}]},
    },
    "required": ["city", "home", "level", "both"],
    "additionalProperties": False,
}


def test_kitchen_sink_sample_is_valid() -> None:
    value = sample_for_schema(KITCHEN_SINK, seed="What is the weather in Paris next week?")
    assert schema_errors(value, KITCHEN_SINK) == []
    assert set(value) == set(KITCHEN_SINK["properties"])


def test_keywords_are_honoured() -> None:
    value = sample_for_schema(KITCHEN_SINK, seed="weather")
    assert value["version"] == 2
    assert value["mode"] == "fast"
    assert value["unit"] == "celsius"
    assert value["choice"] == 5
    assert value["one"] is True
    assert value["empty"] == []
    assert len(value["pair"]) == 2


def test_same_schema_and_seed_give_the_same_value() -> None:
    first = sample_for_schema(KITCHEN_SINK, seed="hello there")
    assert sample_for_schema(KITCHEN_SINK, seed="hello there") == first
    assert sample_for_schema(KITCHEN_SINK, seed="something else") != first


def test_strings_come_from_the_seed_and_the_property_name() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "query": {"type": "string"}, "note": {"type": "string"}},
    }
    value = sample_for_schema(schema, seed="What is the weather in Paris today?")
    assert value["city"] == "Paris"
    assert value["query"] == "What is the weather in Paris today?"
    assert "note" in value["note"] and "weather" in value["note"]
    assert sample_for_schema({"type": "string"}) == "sample value"


def test_recursive_schema_terminates() -> None:
    schema = {
        "$ref": "#/$defs/node",
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["name"],
            }
        },
    }
    value = sample_for_schema(schema, seed="Tell me about Alice Smith")
    assert schema_errors(value, schema) == []
    assert value["name"] == "Alice Smith"
    assert value["children"] == [{"name": "Alice Smith"}]


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "integer", "minimum": -5, "maximum": -3},
        {"type": "integer", "exclusiveMinimum": 100},
        {"type": "integer", "multipleOf": 3, "minimum": 4, "maximum": 6},
        {"type": "number", "minimum": 0, "maximum": 1},
        {"type": "number", "multipleOf": 0.25, "minimum": 2.1},
        {"type": "string", "maxLength": 2},
        {"type": "string", "minLength": 50},
        {"type": "string", "pattern": "^[A-Z]{3}$"},
        {"type": "array", "items": {"enum": ["a", "b", "c"]}, "minItems": 3, "uniqueItems": True},
        {"type": "array", "items": {"type": "boolean"}, "minItems": 2, "uniqueItems": True},
        {"anyOf": [{"type": "null"}, {"type": "integer"}]},
        {"properties": {"x": {"type": "integer"}}, "required": ["x", "y"]},
    ],
)
def test_edge_cases_are_valid(schema: dict[str, Any]) -> None:
    assert schema_errors(sample_for_schema(schema, seed="seed text"), schema) == []


class Colour(Enum):
    RED = "red"
    BLUE = "blue"


class Item(BaseModel):
    title: str
    quantity: int = Field(ge=1, le=9)
    price: float | None = None


class Order(BaseModel):
    customer: str
    email: str = Field(pattern=r"@")
    colour: Colour
    kind: Literal["online", "shop"]
    items: list[Item] = Field(min_length=2)
    notes: dict[str, int]


def test_pydantic_generated_schema_is_accepted_by_the_model() -> None:
    value = sample_for_schema(Order.model_json_schema(), seed="Order two lamps for Bob Stone")
    order = Order.model_validate(value)
    assert order.customer == "Bob Stone"
    assert len(order.items) == 2
