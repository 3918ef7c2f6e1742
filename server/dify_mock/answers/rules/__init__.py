"""Fixture rules: YAML files that say how the mock answers a plugin's reverse invocations.

A fixture file maps fixture keys (`llm`, `tts`, ...) to lists of rules. A rule has an optional `match`
(conditions on facts taken from the request) and one `reply` or a list of `replies` used in turn.
`facts.py` says what each key can match on, `models.py` what a file may say, `loader.py` reads files,
`matching.py` tests a request against a rule, `book.py` holds the rules, `near_miss.py` explains a miss,
`scenarios.py` keeps the state of each scenario per invocation, `templates.py` fills in replies from the request
(in Jinja's sandbox) and `reloading.py` reads the files again when they change.
"""

from dify_mock.answers.rules.book import RuleBook
from dify_mock.answers.rules.facts import FAMILIES, FIXTURE_KEYS, Fact, Family, audio_format
from dify_mock.answers.rules.matching import Rule, RuleMatch
from dify_mock.answers.rules.models import FixtureError, fixture_json_schema
from dify_mock.answers.rules.scenarios import reached_states

__all__ = [
    "FAMILIES",
    "FIXTURE_KEYS",
    "Fact",
    "Family",
    "FixtureError",
    "Rule",
    "RuleBook",
    "RuleMatch",
    "audio_format",
    "fixture_json_schema",
    "reached_states",
]
