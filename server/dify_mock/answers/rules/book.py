"""The rule book: the loaded rules in load order; the first matching rule of a type answers."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dify_mock.answers.rules.loader import build_rules, fixture_files, read_file
from dify_mock.answers.rules.matching import Rule, RuleMatch, match_key
from dify_mock.answers.rules.near_miss import near_miss
from dify_mock.answers.rules.scenarios import ScenarioStates, check_reachable

API = "api"  # the source of rules added through POST /mock/rules


def _read(paths: Sequence[Path]) -> tuple[list[Rule], list[str], list[Path]]:
    """The rules of every fixture file under `paths` (each file once), the files, and the folders given."""
    rules: list[Rule] = []
    files: list[str] = []
    folders: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        folder = path if path.is_dir() else path.parent
        folders.append(folder)
        for file in fixture_files(path):
            if file.resolve() in seen:
                continue
            seen.add(file.resolve())
            rules.extend(read_file(file, folder))
            files.append(str(file))
    return rules, files, folders


class RuleBook:
    """The loaded rules, in load order; the first matching rule of a type answers."""

    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._files: list[str] = []
        self._folders: list[Path] = []  # the fixture folders given, where files a rule names may be
        self._paths: list[Path] = []  # the fixture files and folders given, read again by reload()
        self._lock = threading.RLock()
        self.scenarios = ScenarioStates()

    @classmethod
    def load(cls, paths: Sequence[Path]) -> RuleBook:
        """Load fixture files; a folder is searched recursively for *.yaml and *.yml, in sorted order.

        A file a rule names (`audio_file`) must be inside the folder given (for a file given, its folder)."""
        book = cls()
        book._paths = [Path(path) for path in paths]
        book._rules, book._files, book._folders = _read(book._paths)
        check_reachable(book._rules)
        return book

    @property
    def paths(self) -> list[Path]:
        return list(self._paths)

    def reload(self) -> dict[str, dict[str, int]]:
        """Reads the fixture files again and puts their rules in place of the old ones, which stay if any file has
        an error (FixtureError). Rules added through the API stay, after them; scenario states stay; the new rules
        count their uses from 0. Returns counts() as it is now."""
        rules, files, folders = _read(self._paths)
        with self._lock:
            added = [rule for rule in self._rules if rule.source == API]
            check_reachable([*rules, *added])
            self._rules, self._files, self._folders = [*rules, *added], files, folders
        return self.counts()

    def add(self, data: Mapping[str, Any], origin: str = API, base_dir: Path | None = None) -> list[Rule]:
        """Add rules given as a fixture document; relative audio files resolve against base_dir (or cwd), and
        must be inside it or a loaded fixture folder."""
        base = base_dir or Path.cwd()
        rules = build_rules(data, None, origin, base, (base, *self._folders))
        with self._lock:
            check_reachable([*self._rules, *rules])
            self._rules.extend(rules)
        return rules

    def remove(self, rules: Sequence[Rule]) -> None:
        """Remove these rules; rules not in the book are ignored."""
        gone = {id(rule) for rule in rules}
        with self._lock:
            self._rules = [rule for rule in self._rules if id(rule) not in gone]

    def answer(self, invoke_type: str, request: Mapping[str, Any], scope: str = "") -> RuleMatch | None:
        """The first rule of the type that matches the request in the scope's scenario states (`scope`: the
        invocation the call belongs to), with its next reply; a scenario rule moves its scenario on."""
        with self._lock:
            for rule in self._rules:
                if rule.invoke_type != invoke_type or rule.spent() or not rule.matches(request):
                    continue
                if rule.scenario is not None and self.scenarios.state(scope, rule.scenario) != rule.state:
                    continue
                reply, failed = rule.reply_for(rule.uses, request)
                rule.uses += 1
                return RuleMatch(rule, reply, None if failed else self.scenarios.move(scope, rule))
        return None

    def near_miss(self, invoke_type: str, request: Mapping[str, Any], scope: str = "") -> str:
        """Why no rule answered: the nearest rule of the type, and what it wanted vs what the call had."""

        def state_of(rule: Rule) -> str | None:
            return None if rule.scenario is None else self.scenarios.state(scope, rule.scenario)

        return near_miss(self.rules(invoke_type), self.rules(), invoke_type, request, state_of)

    def rules(self, invoke_type: str | None = None) -> list[Rule]:
        with self._lock:
            return [rule for rule in self._rules if invoke_type is None or rule.invoke_type == invoke_type]

    def reset_uses(self) -> None:
        """Every rule's count of uses back to 0: `replies` start again from the first, `times` and `fail_times`
        count afresh."""
        with self._lock:
            for rule in self._rules:
                rule.uses = 0

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
                if prior.scenario is None and not any(True for _ in prior.conditions()):
                    out.append(f"{here} can never answer: the earlier rule {prior.label()} matches every call")
                    break
                if match_key(prior) == match_key(rule):
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
