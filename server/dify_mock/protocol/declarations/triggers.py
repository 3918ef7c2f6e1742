"""Trigger providers, their events and subscription constructors."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, StrEnum
from typing import Any

from pydantic import BaseModel, Field, model_validator

from dify_mock.protocol.declarations.common import (
    I18nObject,
    OAuthSchema,
    ParameterAutoGenerate,
    ParameterOption,
    ParameterTemplate,
    ProviderConfig,
    named_list,
)
from dify_mock.protocol.declarations.tools import SourceExtra


class EventParameter(BaseModel):
    class EventParameterType(StrEnum):
        STRING = "string"
        NUMBER = "number"
        BOOLEAN = "boolean"
        SELECT = "select"
        CHECKBOX = "checkbox"
        FILE = "file"
        FILES = "files"
        MODEL_SELECTOR = "model-selector"
        APP_SELECTOR = "app-selector"
        OBJECT = "object"
        ARRAY = "array"
        DYNAMIC_SELECT = "dynamic-select"

    name: str
    label: I18nObject
    type: EventParameterType
    auto_generate: ParameterAutoGenerate | None = None
    template: ParameterTemplate | None = None
    scope: str | None = None
    required: bool | None = False
    multiple: bool | None = False
    default: int | float | str | list[Any] | None = None
    min: float | int | None = None
    max: float | int | None = None
    precision: int | None = None
    options: list[ParameterOption] | None = None
    description: I18nObject | None = None


class EventLabelEnum(Enum):
    WEBHOOKS = "webhooks"


class TriggerProviderIdentity(BaseModel):
    author: str
    name: str
    label: I18nObject
    description: I18nObject
    icon: str | None = None
    icon_dark: str | None = None
    tags: list[EventLabelEnum] = Field(default_factory=list)


class EventIdentity(BaseModel):
    author: str
    name: str
    label: I18nObject


class EventConfiguration(BaseModel):
    identity: EventIdentity
    parameters: list[EventParameter] = Field(default_factory=list)
    description: I18nObject
    extra: SourceExtra
    output_schema: Mapping[str, Any] | None = None


class TriggerSubscriptionConstructorConfiguration(BaseModel):
    parameters: list[EventParameter] = Field(default_factory=list)
    credentials_schema: list[ProviderConfig] = Field(default_factory=list)
    oauth_schema: OAuthSchema | None = None
    extra: SourceExtra | None = None

    @model_validator(mode="before")
    @classmethod
    def normalize_credentials_schema(cls, data: object) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise TypeError("subscription_constructor should be defined as a mapping")
        normalised = dict(data)
        normalised["credentials_schema"] = named_list(normalised.get("credentials_schema", []), "credentials_schema")
        return normalised


class TriggerProviderConfiguration(BaseModel):
    identity: TriggerProviderIdentity
    subscription_schema: list[ProviderConfig] = Field(default_factory=list)
    subscription_constructor: TriggerSubscriptionConstructorConfiguration | None = None
    events: list[EventConfiguration] = Field(default=[])
    extra: SourceExtra

    @model_validator(mode="before")
    @classmethod
    def validate_credentials_schema(cls, data: dict[str, Any]) -> dict[str, Any]:
        data["credentials_schema"] = named_list(data.get("credentials_schema", []), "credentials_schema")
        return data
