"""`check --inputs FILE`: the values a developer gives instead of the check's own, keyed by the names it prints.

parameters:                 # per entry point: its parameters (tools, strategies, datasources, events), or
  tool weather/forecast:    # an endpoint's JSON body
    city: Paris
    days: 3
credentials:                # per provider: its form as the user fills it in (`endpoint`: the settings)
  tool weather:
    api_key: sk-test
models:                     # per customizable-model provider: the model a user adds
  model my_ollama: llama3
webhooks:                   # per trigger provider: the request its webhook receives
  trigger github:
    headers: {X-GitHub-Event: issues}
    body: {action: opened}
subscriptions:              # per trigger provider: what the user enters under subscription_schema
  trigger github:
    webhook_secret: s3cret
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SECTIONS = ("parameters", "credentials", "models", "webhooks", "subscriptions")


class InputsError(ValueError):
    """The file cannot be read as check inputs; the text says where."""


@dataclass(frozen=True)
class Inputs:
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)

    def parameters(self, entry_name: str) -> dict[str, Any] | None:
        return self._mapping("parameters", entry_name)

    def credentials(self, provider_key: str) -> dict[str, Any] | None:
        return self._mapping("credentials", provider_key)

    def subscription(self, provider_key: str) -> dict[str, Any] | None:
        return self._mapping("subscriptions", provider_key)

    def webhook(self, provider_key: str) -> dict[str, Any] | None:
        return self._mapping("webhooks", provider_key)

    def model(self, provider_key: str) -> str | None:
        value = self.sections.get("models", {}).get(provider_key)
        return None if value is None else str(value)

    def _mapping(self, section: str, key: str) -> dict[str, Any] | None:
        value = self.sections.get(section, {}).get(key)
        return dict(value) if isinstance(value, Mapping) else None


def load_inputs(path: Path | None) -> Inputs:
    if path is None:
        return Inputs()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise InputsError(f"{path}: cannot be read: {error}") from error
    except yaml.YAMLError as error:
        raise InputsError(f"{path}: not YAML: {' '.join(str(error).split())}") from error
    if data is None:
        return Inputs()
    if not isinstance(data, Mapping):
        raise InputsError(f"{path}: a mapping with the sections {', '.join(SECTIONS)} was expected")
    unknown = [str(key) for key in data if key not in SECTIONS]
    if unknown:
        raise InputsError(f"{path}: unknown section {', '.join(unknown)}; the sections are {', '.join(SECTIONS)}")
    sections: dict[str, dict[str, Any]] = {}
    for section, entries in data.items():
        if entries is None:
            continue
        if not isinstance(entries, Mapping):
            raise InputsError(f"{path}: {section}: a mapping of names to values was expected")
        for key, value in entries.items():
            if section != "models" and not isinstance(value, Mapping):
                raise InputsError(f"{path}: {section}.{key}: a mapping was expected, not {type(value).__name__}")
        sections[str(section)] = {str(key): value for key, value in entries.items()}
    return Inputs(sections)
