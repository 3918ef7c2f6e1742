"""The pydantic models of a fixture file, built from `FAMILIES`: rules, match conditions, patterns; and the
fixture file's JSON Schema."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    PrivateAttr,
    StrictBool,
    StrictInt,
    Tag,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)

from dify_mock.answers.rules.facts import FAMILIES, ROLES, Family
from dify_mock.config.faults import MODEL_INVOKE_TYPES, Fault, Latency

SHORT = 80
STARTED = "started"  # the state every scenario begins in, as in WireMock
TEMPLATES = (
    "A text holding {{ ... }} is a Jinja template (sandboxed) filled in from the call: the match fields "
    "({{ prompt }}, {{ model }}, {{ parameters.temperature }}...) and {{ request }}."
)


class FixtureError(ValueError):
    """A fixture file or rule set is invalid; the message names the file, the line and the key."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""The value of a parameter the request does not have."""


def short(value: Any) -> str:
    if value is MISSING:
        return "nothing (not given)"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= SHORT else text[: SHORT - 3] + "..."


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
        return f"contains {short(self.contains)}" if self.regex is None else f"regex {short(self.regex)}"


class MessagePattern(BaseModel):
    """Matches a prompt message: of a role, with a text given exactly, by substring or by regular expression."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant", "tool", "developer"] | None = Field(
        default=None, description="Only messages of this role: " + ", ".join(ROLES) + "."
    )
    equals: str | None = Field(default=None, description="The message's whole text.")
    contains: str | None = Field(default=None, description="A text the message contains (case-sensitive).")
    regex: str | None = Field(default=None, description="A Python regex found in the message (re.search).")
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
    def _one_text_condition(self) -> Self:
        given = [name for name in ("equals", "contains", "regex") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one of 'equals', 'contains' or 'regex', not {' and '.join(given)}")
        if not given and self.role is None:
            raise ValueError("give a 'role', a text condition ('equals', 'contains' or 'regex'), or both")
        if self.regex is not None:
            self._compiled = re.compile(self.regex)
        return self

    def test(self, role: str, text: str) -> bool:
        if self.role is not None and role != self.role:
            return False
        if self._compiled is not None:
            return self._compiled.search(text) is not None
        if self.contains is not None:
            return self.contains in text
        return self.equals is None or self.equals == text

    def describe(self) -> str:
        parts = [f"role {self.role}"] if self.role else []
        for name in ("equals", "contains", "regex"):
            if getattr(self, name) is not None:
                parts.append(f"{name} {short(getattr(self, name))}")
        return "a message with " + " and ".join(parts)


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
    "messages": Annotated[
        Annotated[str, Tag(_EXACT)] | Annotated[MessagePattern, Tag(_PATTERN)], Discriminator(_condition_tag)
    ],
    "count": Annotated[StrictInt, Field(ge=0)],
}


class RuleModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"oneOf": [{"required": ["reply"]}, {"required": ["replies"]}]}
    )

    name: str | None = Field(default=None, description="Shown in the journal instead of file:line.")
    scenario: str | None = Field(
        default=None,
        min_length=1,
        description="A scenario this rule belongs to: it answers only in the scenario's `state`, and may move the "
        "scenario to `next_state`. Each invocation of the plugin has its own state of each scenario.",
    )
    state: str | None = Field(
        default=None,
        min_length=1,
        description=f"The state the scenario must be in for this rule to answer (default {STARTED}).",
    )
    next_state: str | None = Field(
        default=None, min_length=1, description="The state the scenario moves to when this rule answers."
    )
    times: StrictInt | None = Field(
        default=None,
        ge=1,
        description="Answer at most this many calls (failures included); after that the rule no longer matches, "
        "and the next rule, or the built-in answer, takes the call.",
    )
    fail_times: StrictInt | None = Field(
        default=None,
        ge=1,
        description="The first this many matching calls fail (with `fail_error`); the ones after get the reply. "
        "For testing a plugin's retries.",
    )
    fail_error: str | None = Field(
        default=None,
        min_length=1,
        description="The error message of the calls `fail_times` fails (default: says which rule failed it).",
    )

    @model_validator(mode="after")
    def _one_reply(self) -> Self:
        if (getattr(self, "reply", None) is None) == (getattr(self, "replies", None) is None):
            raise ValueError("give exactly one of 'reply' (one answer) or 'replies' (answers used in turn)")
        if self.scenario is None and (self.state is not None or self.next_state is not None):
            raise ValueError("'state' and 'next_state' need a 'scenario': the name of the scenario they belong to")
        if self.fail_error is not None and self.fail_times is None:
            raise ValueError("'fail_error' needs 'fail_times': how many calls fail before the rule answers")
        if self.times is not None and self.fail_times is not None and self.fail_times >= self.times:
            raise ValueError(
                f"'fail_times' ({self.fail_times}) must be less than 'times' ({self.times}), or the rule never answers"
            )
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
            Field(
                default=None,
                description="The answer to every matching call. " + TEMPLATES,
                json_schema_extra=_no_default,
            ),
        ),
        "replies": (
            list[reply_model],  # type: ignore[valid-type]
            Field(
                default=None,
                min_length=1,
                json_schema_extra=_no_default,
                description="Answers used in turn, one per matching call; "
                "after the last one, the last one keeps answering. " + TEMPLATES,
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


RULE_MODELS: dict[str, type[RuleModel]] = {key: _rule_model(key, family) for key, family in FAMILIES.items()}

_FIXTURE_FIELDS: dict[str, Any] = {
    key: (list[model] | None, Field(default=None, description=FAMILIES[key].description))  # type: ignore[valid-type]
    for key, model in RULE_MODELS.items()
}
FIXTURE_MODEL: type[BaseModel] = create_model(
    "Fixture",
    __config__=ConfigDict(extra="forbid", title="dify-mock fixture file"),
    __doc__="Rules for answering a Dify plugin's reverse invocations. The first matching rule answers.",
    **_FIXTURE_FIELDS,
)


def fixture_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a fixture file."""
    schema = FIXTURE_MODEL.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
