"""Deterministic, plausible values that validate against a JSON Schema.

Used for tool-call arguments and structured output: strings come from the property name and the
prompt (the seed), numbers from the property name and the bounds; nothing is random.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from datetime import date, timedelta
from typing import Any

_MAX_DEPTH = 8
_STOP_WORDS = frozenset(
    re.findall(
        r"\w+",
        """a an and are as at be but by can could do does for from give how i in is it me my of on or our
        please should show so tell that the their them then there these this to us was we what when where
        which who why will with would you your""",
    )
)
_QUERY_NAMES = frozenset(
    {"query", "question", "prompt", "text", "input", "message", "content", "search", "keyword", "q"}
)
_ENTITY_NAMES = frozenset(
    {"city", "location", "place", "country", "region", "destination", "origin", "name", "person", "customer"}
    | {"user", "owner", "recipient", "sender", "contact", "company", "organization", "brand", "author", "title"}
)
_NAME_FORMATS = {"email": "email", "url": "uri", "website": "uri", "link": "uri", "date": "date", "uuid": "uuid"}
_NUMBER_GUESSES: dict[str, float] = {
    "age": 30,
    "year": 2024,
    "month": 6,
    "day": 15,
    "hour": 12,
    "minute": 30,
    "port": 8080,
    "page": 1,
    "count": 3,
    "limit": 5,
    "size": 5,
    "top": 3,
    "k": 3,
    "quantity": 2,
    "amount": 10,
    "price": 9.99,
    "percent": 50,
    "percentage": 50,
    "score": 0.8,
    "confidence": 0.8,
    "probability": 0.8,
    "temperature": 0.7,
}


def key_words(text: str, limit: int = 6) -> list[str]:
    """The first distinct content words of `text`, lower-cased, stop words left out."""
    found: list[str] = []
    for word in re.findall(r"\w+", text.lower()):
        if len(word) > 1 and word not in _STOP_WORDS and word not in found:
            found.append(word)
            if len(found) == limit:
                break
    return found


def sample_for_schema(schema: dict[str, Any], seed: str = "") -> Any:
    """A value valid against `schema`; the same schema and seed always give the same value."""
    return _Sampler(schema, seed).sample(schema, "value", 0, 0, frozenset())


class _Sampler:
    def __init__(self, root: dict[str, Any], seed: str) -> None:
        self.root = root
        self.seed = " ".join(seed.split())
        self.words = key_words(seed)
        self.names = _proper_names(seed)

    def sample(self, schema: Any, name: str, index: int, depth: int, refs: frozenset[str]) -> Any:
        """`refs`: the `$ref`s expanded on the way here; meeting one again means recursion, so go minimal."""
        if schema is True or schema is False or not isinstance(schema, dict):
            return self._text(name, index)
        if depth > _MAX_DEPTH * 3:
            return None
        seen: set[str] = set()
        schema = self._flatten(schema, seen)
        minimal = depth >= _MAX_DEPTH or not seen.isdisjoint(refs)
        refs = refs | seen
        if "const" in schema:
            return schema["const"]
        if "default" in schema:
            return schema["default"]
        if enum := schema.get("enum"):
            return enum[index % len(enum)]
        for key in ("anyOf", "oneOf"):
            if branches := schema.get(key):
                rest = {k: v for k, v in schema.items() if k != key}
                return self.sample(_merge(rest, _first_branch(branches)), name, index, depth + 1, refs)
        kind = _type_of(schema)
        if kind == "object":
            return self._object(schema, depth, refs, minimal)
        if kind == "array":
            return self._array(schema, name, depth, refs, minimal)
        if kind in ("integer", "number"):
            return _number(schema, name, index, integer=kind == "integer")
        if kind == "boolean":
            return index % 2 == 0
        if kind == "null":
            return None
        return self._string(schema, name, index)

    def _flatten(self, schema: dict[str, Any], seen: set[str]) -> dict[str, Any]:
        """Resolve `$ref` and merge `allOf`, so that one plain schema remains; adds the refs to `seen`."""
        for _ in range(_MAX_DEPTH * 4):
            if "$ref" in schema:
                seen.add(str(schema["$ref"]))
                rest = {k: v for k, v in schema.items() if k != "$ref"}
                schema = _merge(self._lookup(str(schema["$ref"])), rest)
            elif "allOf" in schema:
                merged = {k: v for k, v in schema.items() if k != "allOf"}
                for part in schema["allOf"]:
                    if isinstance(part, dict):
                        merged = _merge(merged, self._flatten(part, seen))
                schema = merged
            else:
                break
        return schema

    def _lookup(self, ref: str) -> dict[str, Any]:
        node: Any = self.root
        if not ref.startswith("#"):
            return {}
        for part in ref[1:].split("/")[1:]:
            key = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return {}
        return node if isinstance(node, dict) else {}

    def _object(self, schema: dict[str, Any], depth: int, refs: frozenset[str], minimal: bool) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties") or {}
        required: list[str] = list(schema.get("required") or [])
        names = [n for n in properties if n in required] if minimal else list(properties)
        names += [n for n in required if n not in properties]
        extra = schema.get("additionalProperties")
        extra_schema = extra if isinstance(extra, dict) else {}
        result: dict[str, Any] = {}
        for prop in names:
            result[prop] = self.sample(properties.get(prop, extra_schema), prop, 0, depth + 1, refs)
        if extra is not False:
            while len(result) < int(schema.get("minProperties", 0)):
                prop = f"extra_{len(result) + 1}"
                result[prop] = self.sample(extra_schema, prop, 0, depth + 1, refs)
        return result

    def _array(self, schema: dict[str, Any], name: str, depth: int, refs: frozenset[str], minimal: bool) -> list[Any]:
        items = schema.get("items")
        prefix: list[Any] = schema.get("prefixItems") or (items if isinstance(items, list) else [])
        rest = items if isinstance(items, dict) else schema.get("additionalItems", {})
        count = max(int(schema.get("minItems", 0)), len(prefix), 0 if minimal else 1)
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        if rest is False:
            count = min(count, len(prefix))
        item_name = name[:-1] if name.endswith("s") and len(name) > 3 else name
        return [
            self.sample(prefix[i] if i < len(prefix) else rest, item_name, i, depth + 1, refs) for i in range(count)
        ]

    def _string(self, schema: dict[str, Any], name: str, index: int) -> str:
        if "format" in schema and (formatted := self._formatted(str(schema["format"]), name, index)):
            return formatted
        implied = _NAME_FORMATS.get(_label(name).split()[-1])
        value = (self._formatted(implied, name, index) if implied else None) or self._text(name, index)
        min_length = int(schema.get("minLength", 0))
        while len(value) < min_length:
            value = f"{value} {value}" if value else "x"
        if "maxLength" in schema:
            cut = value[: int(schema["maxLength"])]
            value = cut.rstrip() if len(cut.rstrip()) >= max(min_length, 1) else cut
        if "pattern" in schema:
            value = _matching(str(schema["pattern"]), value)
        return value

    def _text(self, name: str, index: int) -> str:
        label = _label(name)
        suffix = f" {index + 1}" if index else ""
        if set(label.split()) & _QUERY_NAMES and self.seed:
            return self.seed[:200] + suffix
        if set(label.split()) & _ENTITY_NAMES and self.names:
            return self.names[index % len(self.names)]
        if self.words:
            return f"{label} for {' '.join(self.words[:3])}{suffix}"
        return f"sample {label}{suffix}"

    def _formatted(self, fmt: str, name: str, index: int) -> str | None:
        digest = hashlib.sha256(f"{self.seed}\0{name}\0{index}".encode()).digest()
        number = int.from_bytes(digest[:8], "big")
        day = (date(2024, 1, 1) + timedelta(days=number % 366)).isoformat()
        clock = f"{number % 24:02d}:{(number >> 8) % 60:02d}:00Z"
        slug_source = self.names[0] if self.names else (self.words[0] if self.words else _label(name))
        slug = re.sub(r"[^a-z0-9]+", ".", slug_source.lower()).strip(".") or "user"
        formats = {
            "date": day,
            "date-time": f"{day}T{clock}",
            "time": clock,
            "email": f"{slug}@example.com",
            "idn-email": f"{slug}@example.com",
            "uri": f"https://example.com/{slug.replace('.', '-')}",
            "url": f"https://example.com/{slug.replace('.', '-')}",
            "iri": f"https://example.com/{slug.replace('.', '-')}",
            "uri-reference": f"/{slug.replace('.', '-')}",
            "hostname": "example.com",
            "ipv4": f"192.0.2.{1 + number % 254}",
            "ipv6": f"2001:db8::{number % 0xFFFF:x}",
            "uuid": str(uuid.UUID(bytes=digest[:16], version=4)),
            "duration": "PT1H",
        }
        return formats.get(fmt)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **extra}
    if isinstance(base.get("properties"), dict) and isinstance(extra.get("properties"), dict):
        merged["properties"] = {**base["properties"], **extra["properties"]}
    if "required" in base and "required" in extra:
        merged["required"] = list(dict.fromkeys([*base["required"], *extra["required"]]))
    return merged


def _first_branch(branches: list[Any]) -> dict[str, Any]:
    """The first branch, passing over a bare `null` branch when there is another."""
    usable = [b for b in branches if isinstance(b, dict)]
    for branch in usable:
        if branch.get("type") != "null":
            return branch
    return usable[0] if usable else {}


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return next((str(k) for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if {"properties", "required", "additionalProperties"} & schema.keys():
        return "object"
    if {"items", "prefixItems", "minItems"} & schema.keys():
        return "array"
    if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"} & schema.keys():
        return "number"
    return "string"


def _label(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return " ".join(re.split(r"[\W_]+", spaced)).strip().lower() or "value"


def _proper_names(text: str) -> list[str]:
    """Runs of capitalised words that do not merely start a sentence: "Paris", "Alice Smith"."""
    names: list[str] = []
    for match in re.finditer(r"[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*", text):
        words = match.group().split()
        before = text[: match.start()].rstrip()
        if not before or before[-1] in ".!?:\n":
            words = words[1:]
        candidate = " ".join(words)
        if candidate and candidate.lower() not in _STOP_WORDS and candidate not in names:
            names.append(candidate)
    return names


def _matching(pattern: str, value: str) -> str:
    """`value`, or a stand-in when it does not match `pattern` (JSON Schema patterns search, not match)."""
    try:
        compiled = re.compile(pattern)
    except re.error:
        return value
    slug = re.sub(r"\W+", "-", value.lower()).strip("-")
    candidates = (value, slug, slug.replace("-", "_"), slug.upper(), _from_pattern(pattern), "example", "1")
    return next((c for c in candidates if c is not None and compiled.search(c)), value)


def _from_pattern(pattern: str) -> str | None:
    """A string for a simple regex: literals, classes, groups (first branch), quantifiers (one, or the minimum)."""
    try:
        text, end = _pattern_sequence(pattern, 0)
    except (IndexError, ValueError):
        return None
    return text if end == len(pattern) else None


def _pattern_sequence(pattern: str, i: int) -> tuple[str, int]:
    """From `i` up to the `)` closing the group or the end; alternatives after the first are skipped."""
    out: list[str] = []
    while i < len(pattern) and pattern[i] != ")":
        if pattern[i] == "|":
            return "".join(out), _skip_alternatives(pattern, i)
        atom, i = _pattern_atom(pattern, i)
        count, i = _pattern_count(pattern, i)
        out.append(atom * count)
    return "".join(out), i


def _pattern_atom(pattern: str, i: int) -> tuple[str, int]:
    char = pattern[i]
    if char in "^$":
        return "", i + 1
    if char == ".":
        return "a", i + 1
    if char == "\\":
        escaped = pattern[i + 1]
        return {"d": "0", "w": "a", "s": " ", "D": "a", "W": "-", "S": "a"}.get(
            escaped, "" if escaped in "bBAZ" else escaped
        ), i + 2
    if char == "(":
        if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
            raise ValueError("lookaround")
        if pattern.startswith("(?P<", i):
            i = pattern.index(">", i) + 1
        else:
            i += 3 if pattern.startswith("(?:", i) else 1
        inner, i = _pattern_sequence(pattern, i)
        if pattern[i] != ")":
            raise ValueError("unclosed group")
        return inner, i + 1
    if char == "[":
        end = i + 2 if pattern.startswith(("[]", "[^]"), i) else i + 1
        while pattern[end] != "]":
            end += 2 if pattern[end] == "\\" else 1
        members = re.compile(pattern[i : end + 1])
        pick = next((c for c in "aA0bB1xX_-. @" if members.fullmatch(c)), None)
        if pick is None:
            raise ValueError("no simple member")
        return pick, end + 1
    return char, i + 1


def _pattern_count(pattern: str, i: int) -> tuple[int, int]:
    count = 1
    if i < len(pattern) and pattern[i] in "?*+":
        i += 1
    elif i < len(pattern) and (bounds := re.match(r"\{(\d+)(,(\d*))?\}", pattern[i:])):
        low, comma, high = int(bounds.group(1)), bounds.group(2), bounds.group(3)
        count = low if comma is None else max(low, 1) if not high or int(high) >= 1 else 0
        i += bounds.end()
    if i < len(pattern) and pattern[i] in "?+":
        i += 1
    return count, i


def _skip_alternatives(pattern: str, i: int) -> int:
    """The index of the `)` that closes the current group, or the end."""
    depth = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 1
        elif pattern[i] == "(":
            depth += 1
        elif pattern[i] == ")":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return i


def _number(schema: dict[str, Any], name: str, index: int, *, integer: bool) -> int | float:
    low, high = schema.get("minimum"), schema.get("maximum")
    low_open, high_open = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if low_open is True:  # draft 4: a flag on `minimum`
        low, low_open = None, low
    if high_open is True:
        high, high_open = None, high
    low_open = None if isinstance(low_open, bool) else low_open
    high_open = None if isinstance(high_open, bool) else high_open
    step = schema.get("multipleOf")

    def valid(v: float) -> bool:
        return (
            (low is None or v >= low)
            and (high is None or v <= high)
            and (low_open is None or v > low_open)
            and (high_open is None or v < high_open)
            and (not step or math.isclose(v / step, round(v / step), abs_tol=1e-9))
        )

    floor = max((b for b in (low, low_open) if b is not None), default=None)
    ceiling = min((b for b in (high, high_open) if b is not None), default=None)
    words = _label(name).split()
    guess = next((_NUMBER_GUESSES[w] for w in reversed(words) if w in _NUMBER_GUESSES), 1 if integer else 1.5)
    candidates = [guess + index]
    if floor is not None and ceiling is not None:
        candidates.append((floor + ceiling) / 2)
    if floor is not None:
        candidates += [floor, floor + 1, floor + 0.5]
    if ceiling is not None:
        candidates += [ceiling, ceiling - 1, ceiling - 0.5]
    for candidate in candidates:
        options = [candidate]
        if step:
            options += [math.ceil(candidate / step) * step, math.floor(candidate / step) * step]
        for option in options:
            value = math.ceil(option) if integer else float(option)
            for v in (value, math.floor(option)) if integer else (value,):
                if valid(v):
                    return int(v) if integer else float(v)
    return int(guess) if integer else float(guess)
