"""Built-in answers of the workflow nodes a plugin can run (parameter extractor, question classifier).

The extractor gives every declared parameter a value of its type, taken from the query where it can
(numbers next to the parameter's name, an option the query mentions, proper names for names); the classifier
picks the class whose name shares the most words with the query. Both are pure functions of the request.
"""

from __future__ import annotations

import re
from typing import Any

from dify_mock.answers.builtin.schema_sample import sample_for_schema
from dify_mock.answers.replies import ParameterExtractorReply, QuestionClassifierReply

PARAMETER_TYPES = ("string", "number", "bool", "select", "array[string]", "array[number]", "array[object]")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
_WORD = re.compile(r"[^\W_]+")
_NEAR = 3  # words between a parameter's name and the number that belongs to it, at most
_COMMON = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be by for from how i in is it me my of on or the this to was what when where which who "
        "with you your",
    )
)


def empty_value(kind: str) -> Any:
    """The value Dify's extractor gives a declared parameter the model left out."""
    if kind == "number":
        return 0
    if kind == "bool":
        return False
    if kind.startswith("array"):
        return []
    return ""


def fits(kind: str, value: Any, options: list[str]) -> bool:
    """Whether `value` is a valid value of a parameter of type `kind`."""
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "select":
        return isinstance(value, str) and (not options or value in options)
    if kind.startswith("array[") and isinstance(value, list):
        item = kind[len("array[") : -1]
        return all(fits(item if item != "object" else "dict", entry, []) for entry in value)
    if kind == "dict":
        return isinstance(value, dict)
    return kind == "string" and isinstance(value, str)


def _schema(parameter: dict[str, Any]) -> dict[str, Any]:
    kind = str(parameter.get("type"))
    if kind == "number":
        return {"type": "number"}
    if kind == "bool":
        return {"type": "boolean"}
    if kind == "select":
        options = [o for o in parameter.get("options") or [] if isinstance(o, str)]
        return {"type": "string", "enum": options} if options else {"type": "string"}
    if kind.startswith("array["):
        item = kind[len("array[") : -1]
        return {"type": "array", "items": {"type": item}}
    return {"type": "string"}


def _words(text: str) -> list[str]:
    return [_stem(word) for word in _WORD.findall(text.lower())]


def _stem(word: str) -> str:
    """A crude stem, enough to make "charged", "charges" and "charge" one word."""
    for ending in ("ing", "ed", "es", "e", "s"):
        if len(word) > len(ending) + 2 and word.endswith(ending) and not word.endswith("ss"):
            return word[: -len(ending)]
    return word


def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [word for word in _words(spaced) if word not in _COMMON]


def _as_number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def _numbers(query: str) -> list[tuple[int, int | float]]:
    """(word position, value) of every number in the query."""
    found = []
    for match in _NUMBER.finditer(query):
        position = len(_WORD.findall(query[: match.start()]))
        found.append((position, _as_number(match.group())))
    return found


def extract_parameters(parameters: list[dict[str, Any]], query: str) -> dict[str, Any]:
    """A value of the declared type for every parameter, read from the query where possible."""
    schema = {
        "type": "object",
        "properties": {str(p["name"]): _schema(p) for p in parameters},
        "required": [str(p["name"]) for p in parameters],
    }
    sampled = sample_for_schema(schema, seed=query)
    values: dict[str, Any] = dict(sampled) if isinstance(sampled, dict) else {}
    query_words = _words(query)
    numbers = _numbers(query)
    unused = list(numbers)
    for parameter in parameters:
        name, kind = str(parameter["name"]), str(parameter.get("type"))
        words = _name_words(name)
        places = [i for i, word in enumerate(query_words) if word in words]
        if kind == "number" and numbers:
            near = [(abs(at - place), at, value) for at, value in numbers for place in places]
            close = min((n for n in near if n[0] <= _NEAR), default=None)
            chosen = (close[1], close[2]) if close else (unused[0] if unused else None)
            if chosen is not None:
                values[name] = chosen[1]
                if chosen in unused:
                    unused.remove(chosen)
        elif kind == "bool":
            values[name] = bool(places)
        elif kind == "select":
            options = [o for o in parameter.get("options") or [] if isinstance(o, str)]
            mentioned = [o for o in options if re.search(rf"(?i)\b{re.escape(o)}\b", query)]
            values[name] = mentioned[0] if mentioned else (options[0] if options else "")
        elif kind == "array[number]" and numbers:
            values[name] = [value for _, value in numbers]
        if not fits(kind, values.get(name), []):
            values[name] = empty_value(kind)
    return values


def builtin_parameter_extractor(request: dict[str, Any]) -> ParameterExtractorReply:
    parameters = [p for p in request.get("parameters") or [] if isinstance(p, dict) and p.get("name")]
    return ParameterExtractorReply(outputs=extract_parameters(parameters, str(request.get("query") or "")))


def choose_class(classes: list[dict[str, Any]], query: str) -> dict[str, Any]:
    """The class whose name shares the most words with the query; the first one on a tie or no overlap."""
    query_words = set(_words(query)) - _COMMON
    best, best_score = classes[0], 0
    for candidate in classes:
        score = len(set(_name_words(str(candidate.get("name", "")))) & query_words)
        if score > best_score:
            best, best_score = candidate, score
    return best


def builtin_question_classifier(request: dict[str, Any]) -> QuestionClassifierReply:
    classes = [c for c in request.get("classes") or [] if isinstance(c, dict)]
    if not classes:
        return QuestionClassifierReply(error="the call declares no classes to choose from")
    chosen = choose_class(classes, str(request.get("query") or ""))
    return QuestionClassifierReply(class_id=str(chosen.get("id")))
