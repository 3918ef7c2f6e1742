"""The docs' agent examples (docs/fixtures.md) are the fixtures that the tests run, not copies that can drift from them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Conversations: agents that call the model several times"


def yaml_blocks() -> list[str]:
    page = (ROOT / "docs" / "fixtures.md").read_text()
    section = page[page.index(SECTION) :]
    if "\n## " in section:
        section = section[: section.index("\n## ")]
    return re.findall(r"```yaml\n(.*?)```", section, flags=re.S)


def rules_by_name(text: str) -> dict[str, Any]:
    return {rule["name"]: rule for rules in yaml.safe_load(text).values() for rule in rules}


def test_the_official_agent_fixture_is_shown_verbatim() -> None:
    official, _ = yaml_blocks()
    assert official == (ROOT / "tests/fixtures/official_agent.yaml").read_text()


def test_the_scenario_example_is_rules_of_the_react_fixture() -> None:
    _, scenario = yaml_blocks()
    shown = rules_by_name(scenario)
    fixture = rules_by_name((ROOT / "tests/fixtures/react_agent.yaml").read_text())
    assert shown and all(fixture[name] == rule for name, rule in shown.items())
