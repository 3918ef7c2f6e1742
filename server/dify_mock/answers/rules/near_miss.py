"""The near-miss report: when no rule answers, the nearest rule and what it wanted against what the call had."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dify_mock.answers.rules.facts import FAMILIES
from dify_mock.answers.rules.matching import Rule
from dify_mock.answers.rules.models import MessagePattern, Pattern, short
from dify_mock.protocol.words import plural


def fixture_key_of(invoke_type: str) -> str:
    return next((key for key, family in FAMILIES.items() if family.invoke_type == invoke_type), invoke_type)


def describe_condition(condition: Any, kind: str) -> str:
    if isinstance(condition, Pattern | MessagePattern):
        return condition.describe() + (" (any element)" if kind == "names" else "")
    if kind == "names":
        return f"all of {short(condition)}"
    return short(condition)


def _scenario_miss(rule: Rule, current: str | None) -> list[tuple[str, Any, Any]]:
    if rule.scenario is None or current == rule.state:
        return []
    return [(f"state (scenario {rule.scenario})", rule.state, current)]


def near_miss(
    candidates: list[Rule],
    every_rule: list[Rule],
    invoke_type: str,
    request: Mapping[str, Any],
    state_of: Callable[[Rule], str | None],
) -> str:
    """Why no rule answered: the nearest of the candidates (the rules of the type), and what it wanted vs what the
    call had."""
    key = fixture_key_of(invoke_type)
    if not candidates:
        others = sorted({rule.fixture_key for rule in every_rule})
        where = f"rules exist for: {', '.join(others)}" if others else "no rules are loaded at all"
        return f"no fixture rules for {invoke_type} (fixture key '{key}'); {where}"
    # A rule that matches the call but waits in another scenario state is the nearest: it says why it stayed silent.
    scored = [(rule.mismatches(request), _scenario_miss(rule, state_of(rule)), rule) for rule in candidates]
    content, waiting, nearest = min(scored, key=lambda scored: (len(scored[0]), len(scored[1])))
    misses = content + waiting
    where = f"{nearest.name} ({nearest.origin})" if nearest.name else nearest.origin
    if not misses:
        return f"fixture rule {where} matches this {invoke_type} call"
    count = len(candidates)
    fields = nearest.checks() + (nearest.scenario is not None)
    lines = [
        f"no {key} rule matched ({plural(count, 'rule')} checked); "
        f"nearest is {where}, {len(misses)} of {fields} match fields differ:"
    ]
    kinds = FAMILIES[nearest.fixture_key].all_facts()
    for name, condition, value in misses:
        kind = kinds[name].kind if name in kinds else "text"  # `field.parameter` of a params field
        lines.append(f"  {name}: wanted {describe_condition(condition, kind)}, got {short(value)}")
    return "\n".join(lines)
