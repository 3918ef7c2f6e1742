"""Scenarios: rules that answer only in a state of a named scenario and move it on, as in WireMock.

Every scenario starts in `started`. State is kept per scope, the invocation of the plugin that made the call (its
session), so two agent runs side by side each walk their scenarios from the start. The newest MAX_SCOPES scopes are
kept; an older one starts over.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from dify_mock.answers.rules.matching import Rule
from dify_mock.answers.rules.models import STARTED, FixtureError

MAX_SCOPES = 10_000


class ScenarioStates:
    def __init__(self) -> None:
        self._states: OrderedDict[str, dict[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def state(self, scope: str, scenario: str) -> str:
        with self._lock:
            return self._states.get(scope, {}).get(scenario, STARTED)

    def move(self, scope: str, rule: Rule) -> dict[str, str] | None:
        """Moves the rule's scenario to its next state, if it names one: {scenario, from, to, rule}."""
        if rule.scenario is None or rule.next_state is None:
            return None
        with self._lock:
            states = self._states.setdefault(scope, {})
            self._states.move_to_end(scope)
            while len(self._states) > MAX_SCOPES:
                self._states.popitem(last=False)
            before = states.get(rule.scenario, STARTED)
            states[rule.scenario] = rule.next_state
        return {"scenario": rule.scenario, "from": before, "to": rule.next_state, "rule": rule.label()}

    def reset(self, scenario: str | None = None, scope: str | None = None) -> int:
        """Back to `started`: every scenario, or one, in every scope or one. Returns how many states were reset."""
        with self._lock:
            scopes = [scope] if scope is not None else list(self._states)
            count = 0
            for name in scopes:
                states = self._states.get(name, {})
                gone = [key for key in states if scenario is None or key == scenario]
                for key in gone:
                    del states[key]
                count += len(gone)
                if name in self._states and not states:
                    del self._states[name]
            return count

    def snapshot(self) -> dict[str, dict[str, str]]:
        """Per scope (session id): each scenario that has left `started`, and its state."""
        with self._lock:
            return {scope: dict(states) for scope, states in self._states.items()}


def reached_states(rules: Sequence[Rule]) -> dict[str, set[str]]:
    """Each scenario the rules name, with the states it can be in: `started` and every `next_state`."""
    reached: dict[str, set[str]] = {}
    for rule in rules:
        if rule.scenario is not None:
            reached.setdefault(rule.scenario, {STARTED})
            if rule.next_state is not None:
                reached[rule.scenario].add(rule.next_state)
    return reached


def check_reachable(rules: Sequence[Rule]) -> None:
    """Refuses a rule whose required state no rule of its scenario moves to (a typo, or a rule never reached)."""
    reached = reached_states(rules)
    problems = []
    for rule in rules:
        if rule.scenario is not None and rule.state not in reached[rule.scenario]:
            states = ", ".join(sorted(reached[rule.scenario]))
            where = rule.state_origin or rule.origin
            key = f"{where}.state" if where.endswith(rule.path) else f"{where}: {rule.path}.state"
            problems.append(
                f"{key}: scenario {rule.scenario!r} never reaches state {rule.state!r}: "
                f"no rule of it has next_state: {rule.state} (its states: {states})"
            )
    if problems:
        raise FixtureError("\n".join(problems))
