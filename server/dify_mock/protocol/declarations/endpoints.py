"""Endpoint groups and their endpoints."""

from __future__ import annotations

from pydantic import BaseModel, Field

from dify_mock.protocol.declarations.common import ProviderConfig
from dify_mock.protocol.declarations.tools import SourceExtra


class EndpointConfiguration(BaseModel):
    path: str
    method: str
    hidden: bool = False
    extra: SourceExtra


class EndpointProviderConfiguration(BaseModel):
    settings: list[ProviderConfig] = Field(default_factory=list)
    endpoints: list[EndpointConfiguration] = Field(default_factory=list)
