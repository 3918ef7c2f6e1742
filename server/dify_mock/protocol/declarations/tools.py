"""Tool providers and their tools."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, StrEnum
from typing import Any

from pydantic import BaseModel, Field, JsonValue, model_validator

from dify_mock.protocol.declarations.common import (
    I18nObject,
    OAuthSchema,
    ParameterAutoGenerate,
    ParameterOption,
    ParameterTemplate,
    ProviderConfig,
    named_list,
)


class FormShowOnObject(BaseModel):
    variable: str
    value: str


class ToolIdentity(BaseModel):
    author: str
    name: str
    label: I18nObject


class ToolParameterOption(ParameterOption):
    show_on: list[FormShowOnObject] = Field(default_factory=list)


class ToolParameter(BaseModel):
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
        CHECKBOX = "checkbox"
        ANY = "any"
        OBJECT = "object"
        ARRAY = "array"
        DYNAMIC_SELECT = "dynamic-select"
        DATE = "date"
        DATE_RANGE = "date-range"

    class ToolParameterForm(Enum):
        SCHEMA = "schema"
        FORM = "form"
        LLM = "llm"

    name: str
    label: I18nObject
    human_description: I18nObject
    type: ToolParameterType
    auto_generate: ParameterAutoGenerate | None = None
    template: ParameterTemplate | None = None
    scope: str | None = None
    form: ToolParameterForm
    llm_description: str | None = None
    required: bool | None = False
    multiple: bool = False
    default: JsonValue = None
    min: float | int | None = None
    max: float | int | None = None
    precision: int | None = None
    options: list[ToolParameterOption] | None = None
    input_schema: Mapping[str, Any] | None = None
    show_on: list[FormShowOnObject] = Field(default_factory=list)

    @model_validator(mode="after")
    def validate_multiple(self) -> ToolParameter:
        kinds = {ToolParameter.ToolParameterType.SELECT, ToolParameter.ToolParameterType.DYNAMIC_SELECT}
        supports_multiple = self.type in kinds
        if self.multiple and not supports_multiple:
            raise ValueError("multiple is only valid for select and dynamic-select parameters")
        if supports_multiple and self.default is not None and isinstance(self.default, list) != self.multiple:
            raise ValueError("default must be a list exactly when multiple is true")
        return self


class ToolDescription(BaseModel):
    human: I18nObject
    llm: str


class PythonSource(BaseModel):
    source: str


class SourceExtra(BaseModel):
    python: PythonSource


class ToolConfiguration(BaseModel):
    identity: ToolIdentity
    parameters: list[ToolParameter] = Field(default=[])
    description: ToolDescription
    extra: SourceExtra
    has_runtime_parameters: bool = False
    output_schema: Mapping[str, Any] | None = None


class ToolLabelEnum(Enum):
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
    RAG = "rag"
    OTHER = "other"


class ToolProviderIdentity(BaseModel):
    author: str
    name: str
    description: I18nObject
    icon: str
    icon_dark: str | None = None
    label: I18nObject
    tags: list[ToolLabelEnum] = Field(default=[])


class ToolProviderConfiguration(BaseModel):
    identity: ToolProviderIdentity
    credentials_schema: list[ProviderConfig] = Field(default_factory=list, alias="credentials_for_provider")
    oauth_schema: OAuthSchema | None = None
    tools: list[ToolConfiguration] = Field(default=[])
    extra: SourceExtra

    @model_validator(mode="before")
    @classmethod
    def validate_credentials_schema(cls, data: dict[str, Any]) -> dict[str, Any]:
        credentials = data.get("credentials_for_provider", {})
        if not isinstance(credentials, dict):
            raise TypeError("credentials_for_provider should be a mapping of credential name to its form")
        data["credentials_for_provider"] = named_list(credentials, "credentials_for_provider")
        return data
