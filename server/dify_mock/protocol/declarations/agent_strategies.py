"""Agent strategy providers and their strategies."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from dify_mock.protocol.declarations.common import I18nObject, ParameterAutoGenerate, ParameterTemplate
from dify_mock.protocol.declarations.tools import SourceExtra, ToolIdentity, ToolParameterOption, ToolProviderIdentity


class AgentStrategyFeature(StrEnum):
    HISTORY_MESSAGES = "history-messages"


class AgentStrategyParameter(BaseModel):
    class ToolParameterType(StrEnum):
        STRING = "string"
        NUMBER = "number"
        BOOLEAN = "boolean"
        SELECT = "select"
        SECRET_INPUT = "secret-input"
        FILE = "file"
        FILES = "files"
        MODEL_SELECTOR = "model-selector"
        APP_SELECTOR = "app-selector"
        TOOLS_SELECTOR = "array[tools]"
        ANY = "any"
        OBJECT = "object"
        ARRAY = "array"

    name: str
    label: I18nObject
    help: I18nObject | None = None
    type: ToolParameterType
    auto_generate: ParameterAutoGenerate | None = None
    template: ParameterTemplate | None = None
    scope: str | None = None
    required: bool | None = False
    default: int | float | str | None = None
    min: float | int | None = None
    max: float | int | None = None
    precision: int | None = None
    options: list[ToolParameterOption] | None = None


class AgentStrategyConfiguration(BaseModel):
    identity: ToolIdentity
    parameters: list[AgentStrategyParameter] = Field(default=[])
    description: I18nObject
    extra: SourceExtra
    has_runtime_parameters: bool = False
    output_schema: Mapping[str, Any] | None = None
    features: list[AgentStrategyFeature] = Field(default=[])


class AgentStrategyProviderConfiguration(BaseModel):
    identity: ToolProviderIdentity
    strategies: list[AgentStrategyConfiguration] = Field(default=[])
