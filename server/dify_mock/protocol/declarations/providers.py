"""Which model reads each provider file a manifest lists under `plugins`, and the daemon's extra manifest rules."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from dify_mock.protocol.declarations.agent_strategies import AgentStrategyProviderConfiguration
from dify_mock.protocol.declarations.common import AUTHOR_PATTERN, NAME_PATTERN
from dify_mock.protocol.declarations.datasources import DatasourceProviderManifest
from dify_mock.protocol.declarations.endpoints import EndpointProviderConfiguration
from dify_mock.protocol.declarations.models import ModelProviderConfiguration
from dify_mock.protocol.declarations.tools import ToolProviderConfiguration
from dify_mock.protocol.declarations.triggers import TriggerProviderConfiguration

# manifest `plugins` key -> (declaration message type, model of one provider file)
PROVIDER_MODELS: dict[str, tuple[str, type[BaseModel]]] = {
    "tools": ("tool_declaration", ToolProviderConfiguration),
    "models": ("model_declaration", ModelProviderConfiguration),
    "endpoints": ("endpoint_declaration", EndpointProviderConfiguration),
    "agent_strategies": ("agent_strategy_declaration", AgentStrategyProviderConfiguration),
    "datasources": ("datasource_declaration", DatasourceProviderManifest),
    "triggers": ("trigger_declaration", TriggerProviderConfiguration),
}


def daemon_manifest_problem(manifest: Mapping[str, Any]) -> str | None:
    """What the daemon refuses in a manifest the SDK accepted, or None."""
    author, name = manifest.get("author"), manifest.get("name")
    if not isinstance(author, str) or not AUTHOR_PATTERN.match(author):
        return f"author {author!r} must match {AUTHOR_PATTERN.pattern}"
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        return f"name {name!r} must match {NAME_PATTERN.pattern}"
    return None
