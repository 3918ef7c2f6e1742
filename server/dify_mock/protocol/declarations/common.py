"""Pieces every declaration kind uses: I18n texts, parameter options and templates, provider config fields."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import Enum, StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The daemon's manifest check (stricter than the SDK's: lower-case authors only).
AUTHOR_PATTERN = re.compile(r"^[a-z0-9_-]{1,64}$")
NAME_PATTERN = re.compile(r"^[a-z0-9_-]{1,128}$")


class I18nObject(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True, validate_by_alias=True, validate_by_name=True)

    zh_hans: str | None = Field(default=None, alias="zh_Hans")
    pt_br: str | None = Field(default=None, alias="pt_BR")
    ja_jp: str | None = Field(default=None, alias="ja_JP")
    en_us: str = Field(alias="en_US")

    @model_validator(mode="after")
    def fill_missing_translations(self) -> I18nObject:
        if not self.zh_hans:
            self.zh_hans = self.en_us
        if not self.pt_br:
            self.pt_br = self.en_us
        if not self.ja_jp:
            self.ja_jp = self.en_us
        return self


class ParameterOption(BaseModel):
    value: str
    label: I18nObject
    icon: str | None = None

    @field_validator("value", mode="before")
    @classmethod
    def transform_id_to_str(cls, value: object) -> str:
        return value if isinstance(value, str) else str(value)


class ParameterAutoGenerate(BaseModel):
    class Type(StrEnum):
        PROMPT_INSTRUCTION = "prompt_instruction"

    type: Type


class ParameterTemplate(BaseModel):
    enabled: bool


class CommonParameterType(Enum):
    SECRET_INPUT = "secret-input"
    TEXT_INPUT = "text-input"
    SELECT = "select"
    STRING = "string"
    NUMBER = "number"
    FILE = "file"
    FILES = "files"
    BOOLEAN = "boolean"
    CHECKBOX = "checkbox"
    APP_SELECTOR = "app-selector"
    MODEL_SELECTOR = "model-selector"
    TOOLS_SELECTOR = "array[tools]"
    ANY = "any"
    OBJECT = "object"
    ARRAY = "array"
    DYNAMIC_SELECT = "dynamic-select"
    DATE = "date"
    DATE_RANGE = "date-range"


class ConfigOption(BaseModel):
    value: str
    label: I18nObject


class ProviderConfig(BaseModel):
    class Type(Enum):  # the SDK names this enum `Config`, which pydantic reads as a deprecated config class
        SECRET_INPUT = "secret-input"
        TEXT_INPUT = "text-input"
        SELECT = "select"
        BOOLEAN = "boolean"
        MODEL_SELECTOR = "model-selector"
        APP_SELECTOR = "app-selector"
        TOOLS_SELECTOR = "array[tools]"

    name: str
    type: Type
    scope: str | None = None
    required: bool = False
    default: int | float | str | bool | list[Any] | None = None
    options: list[ConfigOption] | None = None
    multiple: bool | None = False
    label: I18nObject
    help: I18nObject | None = None
    url: str | None = None
    placeholder: I18nObject | None = None


class OAuthSchema(BaseModel):
    client_schema: Sequence[ProviderConfig] = Field(default_factory=list)
    credentials_schema: Sequence[ProviderConfig] = Field(default_factory=list)


def named_list(value: Any, what: str) -> list[Any]:
    """`{name: {...}}` as `[{name, ...}]`, the SDK's reading of credential maps."""
    if isinstance(value, dict):
        return [{**item, "name": name} if isinstance(item, dict) else item for name, item in value.items()]
    if isinstance(value, list):
        return value
    raise TypeError(f"{what} should be a list or dict")
