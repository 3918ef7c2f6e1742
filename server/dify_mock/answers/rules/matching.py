"""A loaded rule, and whether a request meets its conditions."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import (
    BaseModel,
)

from dify_mock.answers.replies import Reply
from dify_mock.answers.rules.facts import FAMILIES, Fact, Request
from dify_mock.answers.rules.models import MISSING, STARTED, MessagePattern, Pattern
from dify_mock.answers.rules.templates import ReplyTemplate, TemplateProblem, template_context
from dify_mock.config.faults import Fault, Latency


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
    path: str = field(default="", kw_only=True)  # where in its file: llm[2]
    state_origin: str = field(default="", kw_only=True)  # file:line of its `state` key
    scenario: str | None = field(default=None, kw_only=True)
    state: str = field(default=STARTED, kw_only=True)  # the scenario state it answers in
    next_state: str | None = field(default=None, kw_only=True)
    times: int | None = field(default=None, kw_only=True)  # answers at most this many calls
    fail_times: int | None = field(default=None, kw_only=True)  # the first this many calls fail
    fail_error: str | None = field(default=None, kw_only=True)
    templates: list[ReplyTemplate | None] = field(default_factory=list, kw_only=True, repr=False)  # per reply

    def label(self) -> str:
        return self.name or self.origin

    def describe(self) -> str:
        """The rule with where it comes from: `rule 'weather' (fixtures/a.yaml:3)`, or `rule at fixtures/a.yaml:3`."""
        return (
            f"{self.fixture_key} rule '{self.name}' ({self.origin})"
            if self.name
            else f"{self.fixture_key} rule at {self.origin}"
        )

    def spent(self) -> bool:
        """Whether it has answered its `times` calls."""
        return self.times is not None and self.uses >= self.times

    def reply_for(self, index: int, request: Request) -> tuple[Reply, bool]:
        """The reply to the rule's call number `index` (from 0), and whether it is a `fail_times` failure. A template
        that fails gives an error reply that names the rule and its file."""
        family = FAMILIES[self.fixture_key]
        if self.fail_times is not None and index < self.fail_times:
            error = self.fail_error or (
                f"dify-mock: {self.describe()} fails its first {self.fail_times} calls (fail_times); "
                f"this is call {index + 1}"
            )
            return family.replies()(error=error), True
        turn = min(index - (self.fail_times or 0), len(self.replies) - 1)
        template = self.templates[turn] if self.templates else None
        if template is None:
            return self.replies[turn], False
        try:
            return template.render(template_context(family, request)), False
        except TemplateProblem as problem:
            return family.replies()(error=f"{self.describe()}: {problem}"), False

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
    scenario_change: dict[str, str] | None = None  # {scenario, from, to, rule} when the rule moved its scenario

    @property
    def answered_by(self) -> str:
        return f"rule:{self.rule.label()}"


def _satisfied(condition: Any, value: Any, kind: str) -> bool:
    if kind == "params":
        given = value if isinstance(value, Mapping) else {}
        return all(_parameter_satisfied(wanted, given.get(name, MISSING)) for name, wanted in condition.items())
    if kind == "messages":
        if isinstance(condition, MessagePattern):
            return any(condition.test(role, text) for role, text in value)
        return any(text == condition for _, text in value)
    if kind == "count":
        return isinstance(value, int) and value == condition
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


def match_key(rule: Rule) -> str:
    conditions = {name: plain(cond) for name, _, cond in rule.conditions()}
    return json.dumps([conditions, rule.scenario, rule.state], sort_keys=True)


def plain(condition: Any) -> Any:
    if isinstance(condition, BaseModel):
        return condition.model_dump(exclude_none=True)
    if isinstance(condition, Mapping):
        return {key: plain(value) for key, value in condition.items()}
    return condition
