"""Fixture rules: YAML files that say how the mock answers a plugin's reverse invocations.

A fixture file maps fixture keys (`llm`, `tts`, ...) to lists of rules. A rule has an optional `match`
(conditions on facts taken from the request) and one `reply` or a list of `replies` used in turn.
Adding a family of reverse calls means adding one entry to `FAMILIES` (and its reply model).
"""

from __future__ import annotations

import datetime
import difflib
import json
import re
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    PrivateAttr,
    StrictBool,
    Tag,
    ValidationError,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)

from dify_mock.answers.prompts import message_text
from dify_mock.answers.replies import REPLY_MODELS, Reply
from dify_mock.config.faults import MODEL_INVOKE_TYPES, Fault, Latency
from dify_mock.config.yaml_lines import line_of

__all__ = [
    "FAMILIES",
    "FIXTURE_KEYS",
    "Fact",
    "Family",
    "FixtureError",
    "Rule",
    "RuleBook",
    "RuleMatch",
    "fixture_json_schema",
]

SHORT = 80
MAX_REPORTED_ERRORS = 10


class FixtureError(ValueError):
    """A fixture file or rule set is invalid; the message names the file, the line and the key."""


# ---------------------------------------------------------------------------------------------------------
# Facts: what a match field looks at in the request.

Request = Mapping[str, Any]
FactKind = Literal["text", "names", "flag", "params"]


@dataclass(frozen=True)
class Fact:
    """One match field: how to read it from the request, and what kind of condition it takes.

    kind "text": the fact is a string or a list of strings; the condition is an exact string,
    `{contains: ...}` or `{regex: ...}`; on a list, any element may match.
    kind "names": the fact is a list of names; the condition is a list that must all be present,
    or `{contains}`/`{regex}` matching any name.
    kind "flag": the fact is a bool; the condition is true or false.
    kind "params": the fact is a mapping; the condition maps names to an exact value (compared by JSON
    equality: 1 matches 1.0, but true never matches 1; null matches a missing value) or to
    `{contains}`/`{regex}` (a string value, or any string in a list value); every listed name must match.
    """

    read: Callable[[Request], Any]
    description: str
    kind: FactKind = "text"


def _field(name: str) -> Callable[[Request], Any]:
    def read(request: Request) -> Any:
        return request.get(name)

    return read


def _strings(name: str) -> Callable[[Request], list[str]]:
    def read(request: Request) -> list[str]:
        values = request.get(name)
        return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []

    return read


def _messages(request: Request) -> list[Mapping[str, Any]]:
    messages = request.get("prompt_messages")
    return [m for m in messages if isinstance(m, Mapping)] if isinstance(messages, list) else []


def _last_user_text(request: Request) -> str | None:
    users = [m for m in _messages(request) if m.get("role") == "user"]
    return message_text(users[-1]) if users else None


def _system_text(request: Request) -> str | None:
    systems = [m for m in _messages(request) if m.get("role") == "system"]
    return message_text(systems[0]) if systems else None


def _tool_names(request: Request) -> list[str]:
    tools = request.get("tools")
    if not isinstance(tools, list):
        return []
    return [t["name"] for t in tools if isinstance(t, Mapping) and isinstance(t.get("name"), str)]


def _tool_parameters(request: Request) -> Mapping[str, Any]:
    parameters = request.get("tool_parameters")
    return parameters if isinstance(parameters, Mapping) else {}


def _mapping(name: str) -> Callable[[Request], Mapping[str, Any]]:
    def read(request: Request) -> Mapping[str, Any]:
        value = request.get(name)
        return value if isinstance(value, Mapping) else {}

    return read


def _node_model(key: str) -> Callable[[Request], Any]:
    """A field of a workflow node's `model` config: provider or name."""

    def read(request: Request) -> Any:
        model = request.get("model")
        return model.get(key) if isinstance(model, Mapping) else None

    return read


def _declared_names(name: str) -> Callable[[Request], list[str]]:
    """The `name` of each entry of a list of declarations (a node's parameters or classes)."""

    def read(request: Request) -> list[str]:
        entries = request.get(name)
        if not isinstance(entries, list):
            return []
        return [e["name"] for e in entries if isinstance(e, Mapping) and isinstance(e.get("name"), str)]

    return read


def _text_documents(request: Request) -> list[str]:
    documents = request.get("documents")
    if not isinstance(documents, list):
        return []
    return [
        d["content"]
        for d in documents
        if isinstance(d, Mapping) and d.get("content_type") == "text" and isinstance(d.get("content"), str)
    ]


def _query_content(request: Request) -> Any:
    query = request.get("query")
    return query.get("content") if isinstance(query, Mapping) else query


_AUDIO_MAGIC: tuple[tuple[Callable[[bytes], bool], str], ...] = (
    (lambda h: h.startswith(b"ID3") or (len(h) >= 2 and h[0] == 0xFF and h[1] & 0xE0 == 0xE0), "mp3"),
    (lambda h: h.startswith(b"RIFF") and h[8:12] == b"WAVE", "wav"),
    (lambda h: h.startswith(b"OggS"), "ogg"),
    (lambda h: h.startswith(b"fLaC"), "flac"),
    (lambda h: h[4:8] == b"ftyp", "m4a"),
    (lambda h: h.startswith(b"\x1a\x45\xdf\xa3"), "webm"),
)


def audio_format(hex_audio: Any) -> str | None:
    """The container of hex-encoded audio, from its magic bytes: mp3, wav, ogg, flac, m4a, webm or unknown."""
    if not isinstance(hex_audio, str):
        return None
    try:
        head = bytes.fromhex(hex_audio[:24])
    except ValueError:
        return "unknown"
    return next((name for test, name in _AUDIO_MAGIC if test(head)), "unknown")


def _audio_file_format(request: Request) -> str | None:
    return audio_format(request.get("file"))


@dataclass(frozen=True)
class Family:
    """One fixture key: the reverse invocation type it answers and the match fields it offers."""

    invoke_type: str
    facts: Mapping[str, Fact]
    description: str
    common_facts: bool = True
    reply_model: type[Reply] | None = None

    def all_facts(self) -> dict[str, Fact]:
        return {**(_COMMON_FACTS if self.common_facts else {}), **self.facts}

    def replies(self) -> type[Reply]:
        return self.reply_model or REPLY_MODELS[self.invoke_type]


_COMMON_FACTS: dict[str, Fact] = {
    "provider": Fact(_field("provider"), "The provider as sent, e.g. langgenius/openai/openai."),
    "model": Fact(_field("model"), "The model name, e.g. gpt-4o-mini."),
}

_LLM_FACTS: dict[str, Fact] = {
    "prompt": Fact(_last_user_text, "The text of the last user message (text parts joined by newlines)."),
    "system": Fact(_system_text, "The text of the first system message."),
    "tools": Fact(_tool_names, "Tool names that must all be offered in the request's `tools`.", "names"),
    "stream": Fact(_field("stream"), "Whether the plugin asked for a streamed answer.", "flag"),
}

_TOOL_FACTS: dict[str, Fact] = {
    "provider": Fact(_field("provider"), "The tool's provider as sent, e.g. time or langgenius/time/time."),
    "tool": Fact(_field("tool"), "The tool's name, e.g. current_time."),
    "tool_type": Fact(_field("tool_type"), "builtin, workflow, api or mcp."),
    "parameters": Fact(
        _tool_parameters,
        "Conditions on tool_parameters, by name: an exact value (any JSON; null matches a missing parameter), "
        "or {contains}/{regex} on a string. Every listed parameter must match; others are not checked.",
        "params",
    ),
}

_APP_FACTS: dict[str, Fact] = {
    "app_id": Fact(_field("app_id"), "The app's id as the plugin sends it."),
    "query": Fact(_field("query"), "The user's query (chat apps; completion and workflow calls send none)."),
    "inputs": Fact(
        _mapping("inputs"),
        "Conditions on the app's inputs, by name: an exact value (null matches a missing input), "
        "or {contains}/{regex} on a string. Every listed input must match; others are not checked.",
        "params",
    ),
    "response_mode": Fact(_field("response_mode"), "streaming or blocking."),
    "conversation_id": Fact(_field("conversation_id"), "The conversation the chat call continues."),
}

_NODE_FACTS: dict[str, Fact] = {
    "provider": Fact(_node_model("provider"), "The provider in the node's model config, e.g. openai."),
    "model": Fact(_node_model("name"), "The model name in the node's model config, e.g. gpt-4o-mini."),
    "query": Fact(_field("query"), "The text the node works on."),
    "instruction": Fact(_field("instruction"), "The node's instruction."),
}

FAMILIES: dict[str, Family] = {
    "llm": Family("llm", _LLM_FACTS, "Answers to session.model.llm.invoke()."),
    "llm_structured_output": Family(
        "llm_structured_output",
        _LLM_FACTS,
        "Answers to LLM calls with a structured output schema; give `structured_output` in the reply.",
    ),
    "text_embedding": Family(
        "text_embedding",
        {
            "text": Fact(_strings("texts"), "Any of the texts to embed."),
            "input_type": Fact(_field("input_type"), "document or query."),
        },
        "Answers to session.model.text_embedding.invoke().",
    ),
    "multimodal_embedding": Family(
        "multimodal_embedding",
        {"text": Fact(_text_documents, "Any of the documents whose content_type is text.")},
        "Answers to multimodal embedding calls.",
    ),
    "rerank": Family(
        "rerank",
        {
            "query": Fact(_field("query"), "The query."),
            "doc": Fact(_strings("docs"), "Any of the documents to rerank."),
        },
        "Answers to session.model.rerank.invoke().",
    ),
    "multimodal_rerank": Family(
        "multimodal_rerank",
        {"query": Fact(_query_content, "The query's content.")},
        "Answers to multimodal rerank calls.",
    ),
    "tts": Family(
        "tts",
        {
            "text": Fact(_field("content_text"), "The text to speak."),
            "voice": Fact(_field("voice"), "The voice asked for."),
        },
        "Answers to session.model.tts.invoke(); `audio_file` is relative to the fixture file.",
    ),
    "speech2text": Family(
        "speech2text",
        {"format": Fact(_audio_file_format, "The audio container: mp3, wav, ogg, flac, m4a, webm, unknown.")},
        "Answers to session.model.speech2text.invoke().",
    ),
    "moderation": Family(
        "moderation",
        {"text": Fact(_field("text"), "The text to moderate.")},
        "Answers to session.model.moderation.invoke().",
    ),
    "summary": Family(
        "system_summary",
        {
            "text": Fact(_field("text"), "The text to summarize."),
            "instruction": Fact(_field("instruction"), "The summary instruction."),
        },
        "Answers to session.model.summary.invoke() (invoke type system_summary).",
    ),
    "tool": Family(
        "tool",
        _TOOL_FACTS,
        "Answers to session.tool.invoke(): the messages the called tool yields.",
        common_facts=False,
    ),
    "app": Family(
        "app",
        _APP_FACTS,
        "Answers to session.app.chat/completion/workflow.invoke(): the app's answer, outputs or exact events.",
        common_facts=False,
    ),
    "fetch_app": Family(
        "fetch_app",
        {"app_id": Fact(_field("app_id"), "The app's id as the plugin sends it.")},
        "Answers to session.app.fetch_app(): the app's parameters (`info`).",
        common_facts=False,
    ),
    "node_parameter_extractor": Family(
        "node_parameter_extractor",
        {
            **_NODE_FACTS,
            "parameters": Fact(
                _declared_names("parameters"), "Parameter names that must all be declared in the call.", "names"
            ),
        },
        "Answers to session.workflow_node.parameter_extractor.invoke(): the extracted `outputs`.",
        common_facts=False,
    ),
    "node_question_classifier": Family(
        "node_question_classifier",
        {
            **_NODE_FACTS,
            "classes": Fact(_declared_names("classes"), "Class names that must all be declared in the call.", "names"),
        },
        "Answers to session.workflow_node.question_classifier.invoke(): the chosen class.",
        common_facts=False,
    ),
}

FIXTURE_KEYS: dict[str, str] = {key: family.invoke_type for key, family in FAMILIES.items()}


# ---------------------------------------------------------------------------------------------------------
# Pydantic models of a fixture file, built from FAMILIES.


class Pattern(BaseModel):
    """Matches a text by substring or by regular expression."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"oneOf": [{"required": ["contains"]}, {"required": ["regex"]}]}
    )

    contains: str | None = Field(default=None, description="Matches a text containing this (case-sensitive).")
    regex: str | None = Field(
        default=None,
        description="Matches a text where this Python regex is found (re.search); (?i) ignores case.",
    )
    _compiled: re.Pattern[str] | None = PrivateAttr(default=None)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regular expression {value!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.contains is None) == (self.regex is None):
            raise ValueError("give exactly one of 'contains' or 'regex'")
        if self.regex is not None:
            self._compiled = re.compile(self.regex)
        return self

    def test(self, text: str) -> bool:
        if self._compiled is not None:
            return self._compiled.search(text) is not None
        return self.contains is not None and self.contains in text

    def describe(self) -> str:
        return f"contains {_short(self.contains)}" if self.regex is None else f"regex {_short(self.regex)}"


# Tags show up in pydantic's error locations; they are never YAML keys, so error lines skip them.
_EXACT, _PATTERN = "<exact>", "<contains|regex>"


def _condition_tag(value: Any) -> str:
    return _PATTERN if isinstance(value, Mapping | Pattern) else _EXACT


def _parameter_tag(value: Any) -> str:
    """A mapping holding only `contains`/`regex` is a pattern; any other value (objects too) is exact."""
    if isinstance(value, Pattern) or (isinstance(value, Mapping) and value and set(value) <= {"contains", "regex"}):
        return _PATTERN
    return _EXACT


# An exact value may be any JSON, so the schema says anyOf: a oneOf would refuse every {contains}/{regex}.
_PARAMETER_CONDITION = Annotated[
    Annotated[JsonValue, Tag(_EXACT)] | Annotated[Pattern, Tag(_PATTERN)],
    Discriminator(_parameter_tag),
    WithJsonSchema(
        {
            "anyOf": [
                Pattern.model_json_schema(),
                {"description": "An exact value: string, number, bool, null (missing), list or object."},
            ]
        }
    ),
]


_CONDITION_TYPES: dict[str, Any] = {
    "text": Annotated[Annotated[str, Tag(_EXACT)] | Annotated[Pattern, Tag(_PATTERN)], Discriminator(_condition_tag)],
    "names": Annotated[
        Annotated[list[str], Tag(_EXACT)] | Annotated[Pattern, Tag(_PATTERN)], Discriminator(_condition_tag)
    ],
    "flag": StrictBool,
    "params": dict[str, _PARAMETER_CONDITION],
}


class RuleModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"oneOf": [{"required": ["reply"]}, {"required": ["replies"]}]}
    )

    name: str | None = Field(default=None, description="Shown in the journal instead of file:line.")

    @model_validator(mode="after")
    def _one_reply(self) -> Self:
        if (getattr(self, "reply", None) is None) == (getattr(self, "replies", None) is None):
            raise ValueError("give exactly one of 'reply' (one answer) or 'replies' (answers used in turn)")
        return self


def _camel(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


def _match_model(key: str, family: Family) -> type[BaseModel]:
    fields: dict[str, Any] = {
        name: (_CONDITION_TYPES[fact.kind] | None, Field(default=None, description=fact.description))
        for name, fact in family.all_facts().items()
    }
    return create_model(
        f"{_camel(key)}Match",
        __config__=ConfigDict(extra="forbid", protected_namespaces=()),
        __doc__="Conditions that must all hold; a text is matched exactly, or by {contains} or {regex}.",
        **fields,
    )


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _rule_model(key: str, family: Family) -> type[RuleModel]:
    reply_model = family.replies()
    fields: dict[str, Any] = {
        "match": (
            _match_model(key, family) | None,
            Field(default=None, description="Leave out to match every call of this type."),
        ),
        "reply": (
            reply_model,
            Field(default=None, description="The answer to every matching call.", json_schema_extra=_no_default),
        ),
        "replies": (
            list[reply_model],  # type: ignore[valid-type]
            Field(
                default=None,
                min_length=1,
                json_schema_extra=_no_default,
                description="Answers used in turn, one per matching call; "
                "after the last one, the last one keeps answering.",
            ),
        ),
    }
    if family.invoke_type in MODEL_INVOKE_TYPES:
        fields["latency"] = (
            Latency | None,
            Field(default=None, description="How slowly this rule's answer arrives (delay, pacing, a preset)."),
        )
        fields["fault"] = (
            Fault | None,
            Field(default=None, description="How this rule's answer fails (error mid-stream, hang, ...)."),
        )
    return create_model(f"{_camel(key)}Rule", __base__=RuleModel, __doc__=family.description, **fields)


_RULE_MODELS: dict[str, type[RuleModel]] = {key: _rule_model(key, family) for key, family in FAMILIES.items()}

_FIXTURE_FIELDS: dict[str, Any] = {
    key: (list[model] | None, Field(default=None, description=FAMILIES[key].description))  # type: ignore[valid-type]
    for key, model in _RULE_MODELS.items()
}
_FIXTURE_MODEL: type[BaseModel] = create_model(
    "Fixture",
    __config__=ConfigDict(extra="forbid", title="dify-mock fixture file"),
    __doc__="Rules for answering a Dify plugin's reverse invocations. The first matching rule answers.",
    **_FIXTURE_FIELDS,
)


def fixture_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a fixture file."""
    schema = _FIXTURE_MODEL.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


# ---------------------------------------------------------------------------------------------------------
# Rules and the rule book.


@dataclass(eq=False)
class Rule:
    name: str | None
    invoke_type: str
    origin: str
    uses: int = 0
    fixture_key: str = field(default="", kw_only=True)
    source: str = field(default="", kw_only=True)
    match: BaseModel | None = field(default=None, kw_only=True, repr=False)
    replies: list[Reply] = field(default_factory=list, kw_only=True, repr=False)
    latency: Latency | None = field(default=None, kw_only=True, repr=False)
    fault: Fault | None = field(default=None, kw_only=True, repr=False)

    def label(self) -> str:
        return self.name or self.origin

    def conditions(self) -> Iterator[tuple[str, Fact, Any]]:
        """The match fields this rule sets: (field, fact, condition)."""
        if self.match is None:
            return
        for name, fact in FAMILIES[self.fixture_key].all_facts().items():
            condition = getattr(self.match, name, None)
            if condition is not None:
                yield name, fact, condition

    def checks(self) -> int:
        """How many conditions this rule sets; each listed parameter of a `params` field counts as one."""
        return sum(len(cond) if fact.kind == "params" else 1 for _, fact, cond in self.conditions())

    def mismatches(self, request: Request) -> list[tuple[str, Any, Any]]:
        """The conditions the request fails: (field, condition, the request's value).

        A `params` field reports each failing parameter as `field.name`, with that parameter's condition.
        """
        out = []
        for name, fact, condition in self.conditions():
            value = fact.read(request)
            if fact.kind == "params":
                for parameter, wanted in condition.items():
                    given = value.get(parameter, MISSING) if isinstance(value, Mapping) else MISSING
                    if not _parameter_satisfied(wanted, given):
                        out.append((f"{name}.{parameter}", wanted, given))
            elif not _satisfied(condition, value, fact.kind):
                out.append((name, condition, value))
        return out

    def matches(self, request: Request) -> bool:
        return all(_satisfied(cond, fact.read(request), fact.kind) for _, fact, cond in self.conditions())


@dataclass(frozen=True)
class RuleMatch:
    rule: Rule
    reply: Reply


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""The value of a parameter the request does not have."""


def _satisfied(condition: Any, value: Any, kind: str) -> bool:
    if kind == "params":
        given = value if isinstance(value, Mapping) else {}
        return all(_parameter_satisfied(wanted, given.get(name, MISSING)) for name, wanted in condition.items())
    values = value if isinstance(value, list) else [value]
    if isinstance(condition, Pattern):
        return any(isinstance(v, str) and condition.test(v) for v in values)
    if kind == "names":
        return set(condition) <= {v for v in values if isinstance(v, str)}
    if kind == "flag":
        return isinstance(value, bool) and value == condition
    return any(isinstance(v, str) and v == condition for v in values)


def _parameter_satisfied(condition: Any, value: Any) -> bool:
    if isinstance(condition, Pattern):
        values = value if isinstance(value, list) else [value]
        return any(isinstance(v, str) and condition.test(v) for v in values)
    if value is MISSING:
        return condition is None
    return _same(condition, value)


def _same(expected: Any, actual: Any) -> bool:
    """JSON equality: numbers compare by value (1 == 1.0), but a bool only equals a bool."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if isinstance(expected, Mapping):
        return (
            isinstance(actual, Mapping)
            and set(expected) == set(actual)
            and all(_same(item, actual[key]) for key, item in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(_same(a, b) for a, b in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


def _short(value: Any) -> str:
    if value is MISSING:
        return "nothing (not given)"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= SHORT else text[: SHORT - 3] + "..."


def _describe(condition: Any, kind: str) -> str:
    if isinstance(condition, Pattern):
        return condition.describe() + (" (any element)" if kind == "names" else "")
    if kind == "names":
        return f"all of {_short(condition)}"
    return _short(condition)


class RuleBook:
    """The loaded rules, in load order; the first matching rule of a type answers."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._files: list[str] = []
        self._folders: list[Path] = []  # the fixture folders given, where files a rule names may be
        self._lock = threading.RLock()

    @classmethod
    def load(cls, paths: Sequence[Path]) -> RuleBook:
        """Load fixture files; a folder is searched recursively for *.yaml and *.yml, in sorted order.

        A file a rule names (`audio_file`) must be inside the folder given (for a file given, its folder)."""
        book = cls()
        seen: set[Path] = set()
        for path in paths:
            folder = Path(path) if Path(path).is_dir() else Path(path).parent
            book._folders.append(folder)
            for file in _fixture_files(Path(path)):
                if file.resolve() in seen:
                    continue
                seen.add(file.resolve())
                book._rules.extend(_read_file(file, folder))
                book._files.append(str(file))
        return book

    def add(self, data: Mapping[str, Any], origin: str = "api", base_dir: Path | None = None) -> list[Rule]:
        """Add rules given as a fixture document; relative audio files resolve against base_dir (or cwd), and
        must be inside it or a loaded fixture folder."""
        base = base_dir or Path.cwd()
        rules = _build_rules(data, None, origin, base, (base, *self._folders))
        with self._lock:
            self._rules.extend(rules)
        return rules

    def remove(self, rules: Sequence[Rule]) -> None:
        """Remove these rules; rules not in the book are ignored."""
        gone = {id(rule) for rule in rules}
        with self._lock:
            self._rules = [rule for rule in self._rules if id(rule) not in gone]

    def answer(self, invoke_type: str, request: Mapping[str, Any]) -> RuleMatch | None:
        with self._lock:
            for rule in self._rules:
                if rule.invoke_type == invoke_type and rule.matches(request):
                    reply = rule.replies[min(rule.uses, len(rule.replies) - 1)]
                    rule.uses += 1
                    return RuleMatch(rule, reply)
        return None

    def near_miss(self, invoke_type: str, request: Mapping[str, Any]) -> str:
        """Why no rule answered: the nearest rule of the type, and what it wanted vs what the call had."""
        candidates = self.rules(invoke_type)
        key = _fixture_key(invoke_type)
        if not candidates:
            others = sorted({rule.fixture_key for rule in self.rules()})
            where = f"rules exist for: {', '.join(others)}" if others else "no rules are loaded at all"
            return f"no fixture rules for {invoke_type} (fixture key '{key}'); {where}"
        scored = [(rule.mismatches(request), rule) for rule in candidates]
        misses, nearest = min(scored, key=lambda pair: len(pair[0]))
        where = f"{nearest.name} ({nearest.origin})" if nearest.name else nearest.origin
        if not misses:
            return f"fixture rule {where} matches this {invoke_type} call"
        count = len(candidates)
        fields = nearest.checks()
        lines = [
            f"no {key} rule matched ({count} rule{'s' if count != 1 else ''} checked); "
            f"nearest is {where}, {len(misses)} of {fields} match fields differ:"
        ]
        kinds = FAMILIES[nearest.fixture_key].all_facts()
        for name, condition, value in misses:
            kind = kinds[name].kind if name in kinds else "text"  # `field.parameter` of a params field
            lines.append(f"  {name}: wanted {_describe(condition, kind)}, got {_short(value)}")
        return "\n".join(lines)

    def rules(self, invoke_type: str | None = None) -> list[Rule]:
        with self._lock:
            return [rule for rule in self._rules if invoke_type is None or rule.invoke_type == invoke_type]

    def unused(self) -> list[Rule]:
        return [rule for rule in self.rules() if rule.uses == 0]

    def warnings(self) -> list[str]:
        """Rules that can never answer, and names used twice for one type."""
        out: list[str] = []
        earlier: dict[str, list[Rule]] = {}
        for rule in self.rules():
            before = earlier.setdefault(rule.invoke_type, [])
            here = f"{rule.origin}: {rule.fixture_key} rule" + (f" '{rule.name}'" if rule.name else "")
            for prior in before:
                if not any(True for _ in prior.conditions()):
                    out.append(f"{here} can never answer: the earlier rule {prior.label()} matches every call")
                    break
                if _match_key(prior) == _match_key(rule):
                    out.append(f"{here} can never answer: the earlier rule {prior.label()} has the same match")
                    break
            if rule.name and any(prior.name == rule.name for prior in before):
                out.append(f"{here}: the name is used by an earlier {rule.fixture_key} rule too")
            before.append(rule)
        return out

    def counts(self) -> dict[str, dict[str, int]]:
        """Per source (file, or the origin given to add()): per fixture key: the number of rules."""
        with self._lock:
            out: dict[str, dict[str, int]] = {source: {} for source in self._files}
            for rule in self._rules:
                per_key = out.setdefault(rule.source, {})
                per_key[rule.fixture_key] = per_key.get(rule.fixture_key, 0) + 1
            return out


def _fixture_key(invoke_type: str) -> str:
    return next((key for key, family in FAMILIES.items() if family.invoke_type == invoke_type), invoke_type)


def _match_key(rule: Rule) -> str:
    return json.dumps({name: _plain(cond) for name, _, cond in rule.conditions()}, sort_keys=True)


def _plain(condition: Any) -> Any:
    if isinstance(condition, BaseModel):
        return condition.model_dump(exclude_none=True)
    if isinstance(condition, Mapping):
        return {key: _plain(value) for key, value in condition.items()}
    return condition


# ---------------------------------------------------------------------------------------------------------
# Loading and error reporting.

Loc = tuple[str | int, ...]


def _fixture_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in {".yaml", ".yml"}
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    if path.is_file():
        return [path]
    raise FixtureError(f"{path}: no such fixture file or folder")


def _read_file(file: Path, folder: Path) -> list[Rule]:
    source = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(f"{source}: cannot read: {exc}") from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return []
        _check_duplicate_keys(root, source)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        lines = [m.line + 1 for m in (exc.problem_mark, exc.context_mark) if m is not None]
        line = f":{lines[0]}" if lines else ""
        context = exc.context or ""
        if context and len(set(lines)) == 2:
            context += f" (from line {lines[1]})"
        problem = ", ".join(part for part in (context, exc.problem) if part)
        raise FixtureError(f"{source}{line}: YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:
        raise FixtureError(f"{source}: YAML error: {exc}") from None
    finally:
        loader.dispose()
    if data is None:
        return []
    return _build_rules(data, root, source, file.parent, (folder,))


def _check_duplicate_keys(node: yaml.Node, source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                if key.value in seen:
                    raise FixtureError(f"{source}:{key.start_mark.line + 1}: duplicate key '{key.value}'")
                seen.add(key.value)
            _check_duplicate_keys(value, source)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, source)


def _build_rules(data: Any, root: yaml.Node | None, source: str, base_dir: Path, folders: Sequence[Path]) -> list[Rule]:
    try:
        fixture = _FIXTURE_MODEL.model_validate(data)
    except ValidationError as exc:
        problems = [_explain(error["loc"], error, data, root) for error in exc.errors()]
        raise FixtureError(_report(source, problems)) from None

    rules: list[tuple[int, Rule]] = []
    problems = []
    for key, family in FAMILIES.items():
        for i, model in enumerate(getattr(fixture, key) or []):
            replies: list[Reply] = [model.reply] if model.reply is not None else list(model.replies)
            for j, reply in enumerate(replies):
                where: Loc = (key, i, "reply") if model.reply is not None else (key, i, "replies", j)
                replies[j], found = _resolve_files(reply, base_dir, folders, where, data, root)
                problems.extend(found)
            line = line_of(root, (key, i))
            origin = f"{source}:{line}" if line is not None else f"{source}:{key}[{i}]"
            rule = Rule(
                model.name,
                family.invoke_type,
                origin,
                fixture_key=key,
                source=source,
                match=model.match,
                replies=replies,
                latency=getattr(model, "latency", None),
                fault=getattr(model, "fault", None),
            )
            rules.append((line or 0, rule))
    if problems:
        raise FixtureError(_report(source, problems))
    return [rule for _, rule in sorted(rules, key=lambda pair: pair[0])]


def _resolve_files(
    reply: Reply, base_dir: Path, folders: Sequence[Path], where: Loc, data: Any, root: yaml.Node | None
) -> tuple[Reply, list[tuple[int | None, str]]]:
    """Paths in a reply made absolute; each must name a file inside one of `folders` (symbolic links followed)."""
    updates: dict[str, Path] = {}
    problems = []
    for name, value in reply:
        if isinstance(value, Path):
            path = (base_dir / value).resolve()
            if not any(path.is_relative_to(folder.resolve()) for folder in folders):
                unique = list(dict.fromkeys(folders))
                inside, them = " or ".join(map(str, unique)), "it" if len(unique) == 1 else "them"
                message = f"{value} ({path}) is outside {inside}: a rule may only name files inside {them}"
                problems.append(_explain((*where, name), {"type": "file_outside", "msg": message}, data, root))
            elif path.is_file():
                updates[name] = path
            else:
                error = {"type": "file_missing", "msg": f"no such file: {path}"}
                problems.append(_explain((*where, name), error, data, root))
    return (reply.model_copy(update=updates) if updates else reply), problems


def _report(source: str, problems: list[tuple[int | None, str]]) -> str:
    problems.sort(key=lambda p: p[0] or 0)
    lines = [f"{source}{'' if line is None else f':{line}'}: {text}" for line, text in problems]
    if len(lines) > MAX_REPORTED_ERRORS:
        lines[MAX_REPORTED_ERRORS:] = [f"... and {len(lines) - MAX_REPORTED_ERRORS} more problems"]
    return "\n".join(lines)


def _explain(
    loc: Iterable[str | int], error: Mapping[str, Any], data: Any, root: yaml.Node | None
) -> tuple[int | None, str]:
    """(line, "path: message") for one validation error."""
    path = _present(data, loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        parent, unknown = path[:-1], path[-1]
        message = f"unknown key '{unknown}'" + _suggest(str(unknown), _allowed_keys(parent))
    elif kind == "missing":
        parent, message = path, f"missing key '{list(loc)[-1]}'"
    elif kind == "union_tag_invalid":
        context = error.get("ctx") or {}
        key = str(context.get("discriminator", "type")).strip("'\"")
        tags = [tag.strip() for tag in str(context.get("expected_tags", "")).replace("'", "").split(",") if tag.strip()]
        parent = (*path, key) if _present(data, (*path, key)) == (*path, key) else path
        message = f"unknown {key} {_short(context.get('tag'))}" + _suggest(str(context.get("tag")), tags)
    elif kind == "union_tag_not_found":
        key = str((error.get("ctx") or {}).get("discriminator", "type")).strip("'\"")
        parent, message = path, f"missing key '{key}' (it says which kind of entry this is)"
    elif kind == "value_error":
        parent, message = path, str(error["msg"]).removeprefix("Value error, ")
    elif kind in {"model_type", "dict_type", "model_attributes_type"}:
        parent, message = path, f"expected a mapping (key: value), got {_short(error.get('input'))}"
    elif "input" in error:
        parent, message = path, f"{error['msg']}, got {_short(error['input'])}"
        if isinstance(error["input"], datetime.date):
            message += " (YAML reads an unquoted date as a date: put it in quotes)"
    else:
        parent, message = path, str(error["msg"])
    return line_of(root, path), f"{_dotted(parent)}: {message}"


def _present(data: Any, loc: Iterable[str | int]) -> Loc:
    """The part of a pydantic error location that exists in the data (union tags are left out)."""
    path: list[str | int] = []
    current = data
    for part in loc:
        found = (isinstance(current, Mapping) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        )
        if found:
            current = current[part]
            path.append(part)
    return tuple(path)


def _is_key(node: yaml.Node, part: str | int) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.value == str(part)


def _dotted(path: Loc) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _suggest(word: str, allowed: list[str]) -> str:
    if not allowed:
        return ""
    close = difflib.get_close_matches(word, allowed, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f" (expected one of: {', '.join(allowed)})"


def _allowed_keys(path: Loc) -> list[str]:
    """The keys the fixture models accept at path, found by walking their field annotations."""
    candidates: list[Any] = [_FIXTURE_MODEL]
    for part in path:
        following: list[Any] = []
        for tp in _flatten(candidates):
            if isinstance(part, int):
                if get_origin(tp) is list:
                    following.extend(get_args(tp)[:1])
            elif _is_model(tp) and part in _yaml_keys(tp):
                following.append(_yaml_keys(tp)[part])
        candidates = following
    names: dict[str, None] = {}
    for tp in _flatten(candidates):
        if _is_model(tp):
            names.update(dict.fromkeys(_yaml_keys(tp)))
    return list(names)


def _yaml_keys(model: type[BaseModel]) -> dict[str, Any]:
    """The keys a model accepts in YAML (a field's alias when it has one) and their annotations."""
    return {info.alias or name: info.annotation for name, info in model.model_fields.items()}


def _flatten(candidates: list[Any]) -> list[Any]:
    out: list[Any] = []
    for tp in candidates:
        origin = get_origin(tp)
        if origin is Annotated:
            out.extend(_flatten([get_args(tp)[0]]))
        elif origin is Union or origin is types.UnionType:
            out.extend(_flatten(list(get_args(tp))))
        else:
            out.append(tp)
    return out


def _is_model(tp: Any) -> bool:
    return get_origin(tp) is None and isinstance(tp, type) and issubclass(tp, BaseModel)


if __name__ == "__main__":
    print(json.dumps(fixture_json_schema(), indent=2, sort_keys=True, ensure_ascii=False))
