"""Replies templated from the request: `text: "You said {{ prompt }}"`, `{{ parameters.city }}`, `{{ model }}`.

A reply string holding `{{` or `{%` is a Jinja template, rendered for each call in a sandbox: a template sees only
the request's facts (the rule's match fields, with their values in this call) and `request` (the whole request
as plain JSON). It cannot reach Python objects, import, read files, or build a huge string. A plugin's text is
only ever a value in a template, never a template itself.
"""

from __future__ import annotations

import difflib
import functools
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dify_mock.answers.replies import Reply
from dify_mock.answers.rules.facts import Family

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment

MARKS = ("{{", "{%", "{#")
MAX_OUTPUT = 1_000_000  # characters one template may produce
Path = tuple[str | int, ...]


class TemplateProblem(ValueError):
    """A template that does not compile (at load) or does not render (for one call); the text says why."""


def is_template(value: Any) -> bool:
    return isinstance(value, str) and any(mark in value for mark in MARKS)


@functools.cache
def _environment() -> ImmutableSandboxedEnvironment:
    # Imported on first use: fixtures without templates never pay for Jinja.
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Sandbox(ImmutableSandboxedEnvironment):
        """Refuses `*` and `**` whose result would be huge ("a" * 10**9, 9**9**9)."""

        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
            if operator_name == "**":
                if isinstance(right, int) and abs(right) > 1000:
                    raise SecurityError(f"the exponent {right} is too large (at most 1000)")
                return operator.pow(left, right)
            for sized, count in ((left, right), (right, left)):
                if isinstance(sized, str | list | tuple) and isinstance(count, int) and len(sized) * count > MAX_OUTPUT:
                    raise SecurityError(f"the result would exceed {MAX_OUTPUT} items")
            return operator.mul(left, right)

    return Sandbox(undefined=StrictUndefined, autoescape=False, finalize=lambda value: "" if value is None else value)


def _compile(source: str, names: Collection[str]) -> Template:
    """The template, compiled; TemplateProblem when it does not compile or uses a name it will not see."""
    from jinja2 import TemplateError, meta

    environment = _environment()
    try:
        unknown = sorted(
            meta.find_undeclared_variables(environment.parse(source)) - set(names) - set(environment.globals)
        )
        if unknown:
            close = difflib.get_close_matches(unknown[0], names, n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (a template sees: {', '.join(sorted(names))})"
            raise TemplateProblem(f"unknown name '{unknown[0]}' in the template{hint}")
        return environment.from_string(source)
    except TemplateError as error:
        raise TemplateProblem(f"template does not compile: {_reason(error)}") from None


def _reason(error: Exception) -> str:
    text = str(error).strip().splitlines()
    lineno = getattr(error, "lineno", None)
    where = f" (template line {lineno})" if isinstance(lineno, int) and lineno > 1 else ""
    return (text[0] if text else type(error).__name__) + where


def dotted(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class ReplyTemplate:
    """A reply whose strings include templates: its plain form, and each template by where it is."""

    model: type[Reply]
    plain: dict[str, Any]
    templates: dict[Path, Template]

    @classmethod
    def of(cls, reply: Reply, family: Family, on_problem: Callable[[Path, str], None]) -> ReplyTemplate | None:
        """The reply's templates, compiled; None when it has none. A template that does not compile, or names what
        the family's calls do not have, is reported through on_problem (its place in the reply, and why)."""
        names = context_names(family)
        plain = reply.model_dump(mode="python", by_alias=True, exclude_unset=True)
        templates: dict[Path, Template] = {}
        for path, value in _strings(plain, ()):
            if is_template(value):
                try:
                    templates[path] = _compile(value, names)
                except TemplateProblem as problem:
                    on_problem(path, str(problem))
        return cls(type(reply), plain, templates) if templates else None

    def render(self, context: Mapping[str, Any]) -> Reply:
        """The reply for one call; TemplateProblem (naming the field) when a template fails or the result does not
        make a valid reply."""
        from jinja2 import TemplateError

        rendered = self.plain
        for path, template in self.templates.items():
            try:
                text = template.render(context)
            except TemplateError as error:
                raise TemplateProblem(f"reply.{dotted(path)}: {_reason(error)}") from None
            except (ArithmeticError, TypeError, ValueError) as error:
                raise TemplateProblem(f"reply.{dotted(path)}: {type(error).__name__}: {error}") from None
            if len(text) > MAX_OUTPUT:
                raise TemplateProblem(f"reply.{dotted(path)}: the result exceeds {MAX_OUTPUT} characters")
            rendered = _replaced(rendered, path, text)
        try:
            return self.model.model_validate(rendered)
        except ValueError as error:
            first = str(error).splitlines()
            raise TemplateProblem(f"the rendered reply is not valid: {' '.join(first[1:3]).strip()}") from None


def _strings(value: Any, path: Path) -> list[tuple[Path, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, Mapping):
        return [found for key, item in value.items() for found in _strings(item, (*path, str(key)))]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _strings(item, (*path, index))]
    return []


def _replaced(value: Any, path: Path, text: str) -> Any:
    """A copy of value with the string at path replaced by text (only the containers on the way are copied)."""
    if not path:
        return text
    head, rest = path[0], path[1:]
    if isinstance(value, Mapping):
        return {**value, head: _replaced(value[head], rest, text)}
    copy = list(value)
    assert isinstance(head, int)
    copy[head] = _replaced(copy[head], rest, text)
    return copy


def template_context(family: Family, request: Mapping[str, Any]) -> dict[str, Any]:
    """What a template sees: each match field of the rule's family as this call has it, and the whole request."""
    context: dict[str, Any] = {name: fact.read(request) for name, fact in family.all_facts().items()}
    context["request"] = request
    return context


def context_names(family: Family) -> list[str]:
    return [*family.all_facts(), "request"]
