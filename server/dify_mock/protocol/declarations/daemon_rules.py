"""What Dify's tools refuse in a manifest that the SDK accepts, in their own words.

Two tools, two sets of rules (dify-plugin-daemon bdb5642):
- the daemon, at upload: the plugin's unique identifier `author/name:version@checksum` must match its pattern, the
  author may not be a UUID, and `ManifestValidate` (author and name patterns, at least one kind of declaration,
  the kinds that may not be mixed);
- `dify plugin package` (the CLI), which also runs the manifest's validator tags (version x.y.z, known tags, a URL
  for `repo`, texts under 1024 characters, ...). The daemon never runs those, so a plugin that only the CLI refuses
  installs when it is zipped by hand.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

AUTHOR_RULE = re.compile(r"^[a-z0-9_-]{1,64}$")
NAME_RULE = re.compile(r"^[a-z0-9_-]{1,128}$")
IDENTIFIER = re.compile(
    r"^(?:([a-z0-9_-]{1,64})/)?([a-z0-9_-]{1,255}):([0-9]{1,4})(\.[0-9]{1,4}){1,3}(-\w{1,16})?@[a-f0-9]{32,64}$",
    re.ASCII,
)
CLI_VERSION = re.compile(r"^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$", re.ASCII)
PLUGIN_TAGS = frozenset(
    [
        "search",
        "image",
        "videos",
        "weather",
        "finance",
        "design",
        "travel",
        "social",
        "news",
        "medical",
        "productivity",
        "education",
        "business",
        "entertainment",
        "utilities",
        "agent",
        "rag",
        "other",
        "trigger",
    ]
)
ARCHES = frozenset({"amd64", "arm64"})
KINDS = ("endpoints", "models", "tools", "agent_strategies", "datasources", "triggers")
EXCLUSIVE = {  # the daemon's ManifestValidate, in its order and words
    "models": "model and datasource, tool, endpoint, trigger, or agent_strategy cannot be provided at the same time",
    "agent_strategies": "agent_strategy and tool, model, endpoint, trigger, or datasource cannot be provided at the "
    "same time",
    "datasources": "datasource and tool, model, endpoint, trigger, or agent_strategy cannot be provided at the same "
    "time",
    "triggers": "trigger and tool, model, endpoint, or agent_strategy cannot be provided at the same time",
}


def daemon_refusal(manifest: Mapping[str, Any]) -> str | None:
    """Why the daemon's upload refuses this manifest, in its words, or None."""
    author, name, version = (_text(manifest.get(key)) for key in ("author", "name", "version"))
    identifier = f"{author}/{name}:{version}@" + "0" * 64
    if not IDENTIFIER.match(identifier):
        return f"plugin_unique_identifier is not valid: {author}/{name}:{version}@<checksum>"
    try:
        uuid.UUID(author)
        return "cannot set author to an UUID"
    except ValueError:
        pass
    if not AUTHOR_RULE.match(author):
        return "author must be alphanumeric and less than 64 characters: ^[a-z0-9_-]{1,64}$"
    if not NAME_RULE.match(name):
        return "plugin name must be alphanumeric and less than 128 characters: ^[a-z0-9_-]{1,128}$"
    plugins = _mapping(manifest.get("plugins"))
    declared = {kind for kind in KINDS if plugins.get(kind)}
    if not declared:
        return "at least one of endpoint, model, tool, agent_strategy, trigger, or datasource must be provided"
    for kind, words in EXCLUSIVE.items():
        if kind in declared and len(declared) > 1:
            return words
    return None


def cli_refusal(manifest: Mapping[str, Any]) -> str | None:
    """Why `dify plugin package` refuses this manifest (its validator tags), or None; the field as Go names it."""
    meta = _mapping(manifest.get("meta"))
    runner = _mapping(meta.get("runner"))
    resource = _mapping(manifest.get("resource"))
    checks: list[tuple[str, bool]] = [
        ("Version: not x.y.z (the 'version' tag)", bool(CLI_VERSION.match(_text(manifest.get("version"))))),
        ("Type: must be plugin", manifest.get("type") == "plugin"),
        ("Author: over 64 characters", len(_text(manifest.get("author"))) <= 64),
        ("Name: required, at most 128 characters", 0 < len(_text(manifest.get("name"))) <= 128),
        ("Icon: required, at most 128 characters", 0 < len(_text(manifest.get("icon"))) <= 128),
        ("IconDark: over 128 characters", len(_text(manifest.get("icon_dark"))) <= 128),
        ("Resource.Memory: required", bool(resource.get("memory"))),
        ("Meta.Version: not x.y.z (the 'version' tag)", bool(CLI_VERSION.match(_text(meta.get("version"))))),
        ("Meta.Arch: required, each amd64 or arm64", _arches(meta.get("arch"))),
        ("Meta.Runner.Language: must be python", runner.get("language") == "python"),
        ("Meta.Runner.Version: required, at most 128 characters", 0 < len(_text(runner.get("version"))) <= 128),
        ("Meta.Runner.Entrypoint: required, at most 256 characters", 0 < len(_text(runner.get("entrypoint"))) <= 256),
        ("CreatedAt: required", _created(manifest.get("created_at"))),
        ("Repo: not a URL (the 'url' tag)", manifest.get("repo") in (None, "") or _url(manifest.get("repo"))),
    ]
    for field in ("label", "description"):
        checks.append((f"{field.title()}: en_US required, each text under 1024 characters", _i18n(manifest.get(field))))
    tags = manifest.get("tags") or []
    unknown = [tag for tag in tags if tag not in PLUGIN_TAGS] if isinstance(tags, list) else [tags]
    checks.append((f"Tags: {unknown[:1]} is not a plugin tag (the 'plugin_tag' tag)", not unknown))
    storage = _mapping(_mapping(resource.get("permission")).get("storage"))
    if storage:
        size = storage.get("size", 0)
        checks.append(("Storage.Size: 1024 to 1073741824", isinstance(size, int) and 1024 <= size <= 1073741824))
    plugins = _mapping(manifest.get("plugins"))
    paths = [path for kind in KINDS for path in (plugins.get(kind) or []) if isinstance(path, str)]
    checks.append(("Plugins: each path at most 128 characters", all(len(path) <= 128 for path in paths)))
    for problem, holds in checks:
        if not holds:
            return problem
    return None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _arches(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(arch in ARCHES for arch in value)


def _created(value: Any) -> bool:
    if isinstance(value, datetime):
        return True
    try:
        return bool(value) and datetime.fromisoformat(str(value).replace("Z", "+00:00")[:32]) is not None
    except ValueError:
        return True  # Go reads more layouts than Python; the SDK names a created_at it cannot read


def _url(value: Any) -> bool:
    parsed = urlparse(str(value))
    return bool(parsed.scheme) and (bool(parsed.netloc) or parsed.scheme in ("mailto", "file", "data"))


def _i18n(value: Any) -> bool:
    texts = _mapping(value)
    english = _text(texts.get("en_US"))
    return 0 < len(english) < 1024 and all(len(_text(texts.get(key))) < 1024 for key in ("ja_JP", "zh_Hans", "pt_BR"))
