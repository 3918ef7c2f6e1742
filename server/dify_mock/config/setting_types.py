"""What a setting's value may be: `option(...)`, which makes a field a setting, and the types that validate values
given as flags, `DIFY_MOCK_*` variables or config-file keys (lists from comma-separated text, URLs, HOST:PORT)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_settings import NoDecode

from dify_mock.config.specs import SpecError, parse_serverless


def option(default: Any, help: str, *, metavar: str | None = None, env: Sequence[str] = ()) -> Any:
    """A setting: a field with its flag, environment variable and config key. `env` adds variable names that are
    read after DIFY_MOCK_<NAME> (for names another program already uses)."""
    extra: dict[str, Any] = {"option": True}
    if metavar:
        extra["metavar"] = metavar
    if env:
        extra["also_env"] = list(env)
    return Field(default, description=help, json_schema_extra=extra)


def _split(value: Any) -> Any:
    """A list from the environment: comma-separated (or os.pathsep-separated, as PATH is)."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.replace(os.pathsep, ",").split(",") if item.strip())
    return value


def _split_commas(value: Any) -> Any:
    """A list of URLs from the environment: comma-separated only (a URL has colons)."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _key(value: str) -> str:
    if not value.partition("=")[0]:
        raise ValueError(f"{value!r}: the key is empty (use KEY or KEY=TENANT_ID)")
    return value


def _serverless_spec(value: str) -> str:
    try:
        parse_serverless(value)
    except SpecError as error:
        raise ValueError(str(error).removeprefix("--serverless ")) from None
    return value


def _http_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} must start with http:// or https://")
    return value


def _host_port(value: str | None) -> str | None:
    if value is not None:
        host, _, port = value.rpartition(":")
        if not host or "/" in value or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{value!r} must be HOST:PORT, as REMOTE_INSTALL_URL is (e.g. localhost:15003)")
    return value


Port = Annotated[int, Field(ge=0, le=65535)]
Seconds = Annotated[float, Field(gt=0)]
Bytes = Annotated[int, Field(ge=1)]
List = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split)]
Keys = Annotated[tuple[Annotated[str, AfterValidator(_key)], ...], NoDecode, BeforeValidator(_split)]
Paths = Annotated[tuple[Path, ...], NoDecode, BeforeValidator(_split)]
Specs = Annotated[
    tuple[Annotated[str, AfterValidator(_serverless_spec)], ...], NoDecode, BeforeValidator(_split_commas)
]
Url = Annotated[str | None, AfterValidator(_http_url)]
Address = Annotated[str | None, AfterValidator(_host_port)]
