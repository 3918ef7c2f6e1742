"""The mock's state, shared by every transport and API: settings, plugins, fixture rules, journal."""

from __future__ import annotations

from dataclasses import dataclass, field

from dify_mock.answers.rules import RuleBook
from dify_mock.config import Settings
from dify_mock.journal import Journal
from dify_mock.reverse.storage import PluginStorage
from dify_mock.runtimes.registry import Registry


@dataclass(eq=False)
class Host:
    settings: Settings
    rules: RuleBook
    storage: PluginStorage
    registry: Registry = field(default_factory=Registry)
    journal: Journal = field(default_factory=Journal)
