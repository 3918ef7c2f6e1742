"""`manifest.yaml`: the plugin's configuration, resources and permissions, as the SDK validates it."""

from __future__ import annotations

import datetime
from enum import Enum

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, Field, field_validator

from dify_mock.protocol.declarations.common import I18nObject


class PluginArch(Enum):
    AMD64 = "amd64"
    ARM64 = "arm64"


class PluginLanguage(Enum):
    PYTHON = "python"


class PluginType(Enum):
    Plugin = "plugin"


class PluginResourceRequirements(BaseModel):
    class Permission(BaseModel):
        class Tool(BaseModel):
            enabled: bool | None = False

        class Model(BaseModel):
            enabled: bool | None = False
            llm: bool | None = False
            text_embedding: bool | None = False
            rerank: bool | None = False
            tts: bool | None = False
            speech2text: bool | None = False
            moderation: bool | None = False

        class Node(BaseModel):
            enabled: bool | None = False

        class Endpoint(BaseModel):
            enabled: bool | None = False

        class App(BaseModel):
            enabled: bool | None = False

        class Storage(BaseModel):
            enabled: bool | None = False
            size: int = Field(ge=1024, le=1073741824, default=1048576)

        tool: Tool | None = None
        model: Model | None = None
        node: Node | None = None
        endpoint: Endpoint | None = None
        app: App | None = None
        storage: Storage | None = None

    memory: int
    permission: Permission | None = None


def _checked_version(value: str | None) -> str | None:
    if value is not None:
        try:
            Version(value)
        except InvalidVersion as error:
            raise ValueError(f"Invalid version format: {value}") from error
    return value


class PluginConfiguration(BaseModel):
    class Plugins(BaseModel):
        tools: list[str] = Field(default_factory=list)
        models: list[str] = Field(default_factory=list)
        endpoints: list[str] = Field(default_factory=list)
        agent_strategies: list[str] = Field(default_factory=list)
        datasources: list[str] = Field(default_factory=list)
        triggers: list[str] = Field(default_factory=list)

    class Meta(BaseModel):
        class PluginRunner(BaseModel):
            language: PluginLanguage
            version: str
            entrypoint: str

        version: str
        arch: list[PluginArch]
        runner: PluginRunner
        minimum_dify_version: str | None = None

        @field_validator("minimum_dify_version")
        @classmethod
        def validate_minimum_dify_version(cls, value: str | None) -> str | None:
            return _checked_version(value)

    version: str
    type: PluginType
    author: str | None = Field(..., pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    name: str = Field(..., pattern=r"^[a-z0-9_-]{1,128}$")
    repo: str | None = None
    description: I18nObject
    icon: str
    icon_dark: str | None = None
    label: I18nObject
    created_at: datetime.datetime
    resource: PluginResourceRequirements
    plugins: Plugins
    meta: Meta

    @field_validator("version")
    @classmethod
    def validate_version(cls, value: str) -> str:
        checked = _checked_version(value)
        assert checked is not None
        return checked
