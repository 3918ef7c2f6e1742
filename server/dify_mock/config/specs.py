"""What the settings ask the mock to run beside its listeners: plugin processes and serverless plugins."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

RUNTIMES = ("local", "remote")


@dataclass(frozen=True)
class PluginLaunch:
    """A plugin process the mock starts and keeps running (`dify-mock run`)."""

    folder: Path  # the plugin folder: the one given, or where a package was unpacked
    python: str  # the interpreter that has the plugin's requirements
    runtime: str = "local"  # local: a child over stdin/stdout, as the daemon runs plugins; remote: over TCP
    source: str = ""  # what the user named (a folder or a .difypkg), for messages
    plugin_id: str = ""  # author/name, from its manifest
    sdk_version: str = ""  # the dify-plugin release its Python has, e.g. 0.10.2


@dataclass(frozen=True)
class ServerlessPlugin:
    """A plugin already running as an HTTP server (INSTALL_METHOD=serverless) that dispatch reaches over HTTP."""

    plugin_id: str  # author/name, as X-Plugin-ID names it
    url: str  # where its /invoke and /health are
    folder: Path | None = None  # where to read its declarations and permissions from


class SpecError(ValueError):
    """A --serverless value that cannot be used; the text says how to write it."""


def parse_serverless(value: str) -> ServerlessPlugin:
    """`AUTHOR/NAME=URL` or `AUTHOR/NAME=URL@PLUGIN_FOLDER`."""
    plugin_id, equals, rest = value.partition("=")
    if not equals or not plugin_id or not rest:
        raise SpecError(f"--serverless {value!r}: write AUTHOR/NAME=URL or AUTHOR/NAME=URL@PLUGIN_FOLDER")
    author, slash, name = plugin_id.partition("/")
    if not slash or not author or not name or "/" in name:
        raise SpecError(f"--serverless {value!r}: {plugin_id!r} must be the plugin id, AUTHOR/NAME")
    url, at, folder = rest.rpartition("@") if "@" in rest.partition("://")[2] else (rest, "", "")
    if not url.startswith(("http://", "https://")):
        raise SpecError(f"--serverless {value!r}: the URL must start with http:// or https://")
    return ServerlessPlugin(plugin_id, url.rstrip("/"), Path(folder) if at else None)
