"""Datasource providers and their datasources."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

from dify_mock.protocol.declarations.common import (
    I18nObject,
    OAuthSchema,
    ParameterAutoGenerate,
    ParameterOption,
    ParameterTemplate,
    ProviderConfig,
)
from dify_mock.protocol.declarations.tools import SourceExtra


class DatasourceLabelEnum(Enum):
    SEARCH = "search"
    IMAGE = "image"
    VIDEOS = "videos"
    WEATHER = "weather"
    FINANCE = "finance"
    DESIGN = "design"
    TRAVEL = "travel"
    SOCIAL = "social"
    NEWS = "news"
    MEDICAL = "medical"
    PRODUCTIVITY = "productivity"
    EDUCATION = "education"
    BUSINESS = "business"
    ENTERTAINMENT = "entertainment"
    UTILITIES = "utilities"
    OTHER = "other"


class DatasourceProviderType(StrEnum):
    ONLINE_DOCUMENT = "online_document"
    WEBSITE_CRAWL = "website_crawl"
    ONLINE_DRIVE = "online_drive"


class DatasourceParameter(BaseModel):
    class DatasourceParameterType(StrEnum):
        STRING = "string"
        NUMBER = "number"
        BOOLEAN = "boolean"
        SELECT = "select"
        SECRET_INPUT = "secret-input"
        FILE = "file"
        FILES = "files"

    name: str
    label: I18nObject
    placeholder: I18nObject | None = None
    scope: str | None = None
    auto_generate: ParameterAutoGenerate | None = None
    template: ParameterTemplate | None = None
    required: bool = False
    default: float | int | str | None = None
    min: float | int | None = None
    max: float | int | None = None
    precision: int | None = None
    options: list[ParameterOption] = Field(default_factory=list)
    type: DatasourceParameterType
    description: I18nObject


class DatasourceIdentity(BaseModel):
    author: str
    name: str
    label: I18nObject
    icon: str | None = None


class DatasourceEntity(BaseModel):
    identity: DatasourceIdentity
    parameters: list[DatasourceParameter] = Field(default_factory=list)
    description: I18nObject
    output_schema: dict[str, Any] = Field(default_factory=dict)
    extra: SourceExtra

    @field_validator("parameters", mode="before")
    @classmethod
    def set_parameters(cls, value: Any) -> Any:
        return value or []


class DatasourceProviderIdentity(BaseModel):
    author: str
    name: str
    description: I18nObject
    icon: str
    label: I18nObject
    tags: list[DatasourceLabelEnum] | None = Field(default=[])


class DatasourceProviderManifest(BaseModel):
    identity: DatasourceProviderIdentity
    credentials_schema: list[ProviderConfig] = Field(default_factory=list)
    oauth_schema: OAuthSchema | None = None
    provider_type: DatasourceProviderType
    datasources: list[DatasourceEntity] = Field(default_factory=list)
    extra: SourceExtra
