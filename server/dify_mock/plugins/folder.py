"""Reads a plugin folder into the declarations its SDK would send, for runtimes that get none (stdio, serverless).

The SDK builds them from `manifest.yaml`, the provider files it lists and the files those list in turn (tools,
strategies, models, endpoints, datasources, events), reading paths relative to the plugin folder. Which keys of
each file count follows the SDK; the shapes and defaults are in `protocol/declarations/`.
"""

from __future__ import annotations

import ast
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from dify_mock.plugins.plugin_yaml import PluginYamlError, inside, read_plugin_yaml
from dify_mock.protocol.declarations import (
    PROVIDER_MODELS,
    PluginConfiguration,
    daemon_manifest_problem,
)

log = logging.getLogger("dify_mock.declarations")

MANIFEST = "manifest.yaml"
ASSETS = "_assets"
MODEL_TYPES = ("llm", "text_embedding", "rerank", "tts", "speech2text", "moderation")
# The keys of a tool, strategy or event file the SDK reads; it ignores the others.
TOOL_KEYS = ("identity", "parameters", "description", "extra", "output_schema")
STRATEGY_KEYS = ("identity", "parameters", "description", "extra", "features")
EVENT_KEYS = ("identity", "parameters", "description", "extra", "output_schema")


class DeclarationError(ValueError):
    """The folder cannot be read as a plugin; the text names the file and what is wrong in it."""


@dataclass(frozen=True)
class PluginFolder:
    root: Path
    manifest: dict[str, Any]
    declarations: dict[str, list[dict[str, Any]]]  # manifest `plugins` key -> provider declarations
    assets: dict[str, bytes]

    @property
    def plugin_id(self) -> str:
        return f"{self.manifest['author']}/{self.manifest['name']}"

    @property
    def entrypoint(self) -> str:
        return str(self.manifest["meta"]["runner"]["entrypoint"])


def read_manifest(root: Path) -> dict[str, Any]:
    """The raw manifest.yaml of a plugin folder, with a clear error when there is none."""
    if not root.is_dir():
        raise DeclarationError(f"{root} is not a folder")
    if not (root / MANIFEST).is_file():
        raise DeclarationError(f"{root} has no {MANIFEST}: it is not a plugin folder (`dify plugin init` makes one)")
    return _object(_yaml(root, MANIFEST), MANIFEST)


def load_plugin_folder(root: Path) -> PluginFolder:
    root = root.resolve()
    manifest = _validated(PluginConfiguration, read_manifest(root), MANIFEST)
    problem = daemon_manifest_problem(manifest)
    if problem is not None:
        raise DeclarationError(f"{MANIFEST}: Dify's daemon refuses this manifest: {problem}")
    declarations: dict[str, list[dict[str, Any]]] = {}
    for category, (_, model) in PROVIDER_MODELS.items():
        providers = []
        for path in manifest["plugins"][category]:
            where = f"{path} (listed under plugins.{category} in {MANIFEST})"
            data = _object(_yaml(root, path, where), path)
            providers.append(_validated(model, RESOLVERS[category](root, path, data), path))
        if providers:
            declarations[category] = providers
    for provider in declarations.get("tools", []):
        for tool in provider["tools"]:
            source = _inside(root, str(tool["extra"]["python"]["source"]), "extra.python.source of a tool")
            tool["has_runtime_parameters"] = defines_runtime_parameters(source)
    return PluginFolder(root, manifest, declarations, read_assets(root))


def read_assets(root: Path) -> dict[str, bytes]:
    """The files directly inside `_assets/`, as the SDK uploads them (sub-folders are not sent)."""
    folder = root / ASSETS
    if not folder.is_dir():
        log.warning("%s has no %s folder: the SDK refuses to start without one", root, ASSETS)
        return {}
    return {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.is_file() and _inside(root, f"{ASSETS}/{entry.name}", ASSETS)
    }


def defines_runtime_parameters(source: Path) -> bool:
    """Whether a class in the tool's source defines `_get_runtime_parameters` (the SDK asks the loaded class)."""
    try:
        tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
    except (OSError, SyntaxError, ValueError):
        return False  # the plugin fails to import it and says why when it starts
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.bases:
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == "_get_runtime_parameters":
                    return True
    return False


# -- reading files


def _yaml(root: Path, relative: str, where: str | None = None) -> Any:
    try:
        return read_plugin_yaml(root, relative)
    except FileNotFoundError:
        raise DeclarationError(f"{where or relative}: the file does not exist under {root}") from None
    except PluginYamlError as error:
        raise DeclarationError(str(error)) from None
    except OSError as error:
        raise DeclarationError(f"{relative}: cannot be read: {error}") from None


def _inside(root: Path, relative: str, what: str) -> Path:
    try:
        return inside(root, relative)
    except PluginYamlError as error:
        raise DeclarationError(f"{what}: {error}") from None


def _object(value: Any, relative: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        kind = "empty" if value is None else f"a {type(value).__name__}, not a mapping"
        raise DeclarationError(f"{relative}: the file is {kind}")
    return value


def _validated(model: type[BaseModel], data: dict[str, Any], relative: str) -> dict[str, Any]:
    try:
        return model.model_validate(data).model_dump(mode="json")
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc'])) or '(top level)'}: {problem['msg']}" for problem in error.errors()
        )
        raise DeclarationError(f"{relative}: {problems}") from None
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise DeclarationError(f"{relative}: {error}") from None


def _list(data: dict[str, Any], key: str, relative: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise DeclarationError(f"{relative}: {key} should be a list of file paths")
    return value


def _referenced(root: Path, owner: str, key: str, index: int, path: Any) -> dict[str, Any]:
    if not isinstance(path, str):
        raise DeclarationError(f"{owner}: {key}[{index}] should be a file path, got {type(path).__name__}")
    return _object(_yaml(root, path, f"{path} (listed as {key}[{index}] in {owner})"), path)


def _picked(data: dict[str, Any], keys: tuple[str, ...], relative: str) -> dict[str, Any]:
    missing = [key for key in ("identity", "description") if key in keys and key not in data]
    if missing:
        raise DeclarationError(f"{relative}: {', '.join(missing)} is required")
    picked = {key: data[key] for key in keys if key in data}
    picked["parameters"] = data.get("parameters") or []
    picked.setdefault("extra", {})
    return picked


# -- what each kind of provider file refers to


def _tools(root: Path, relative: str, data: dict[str, Any]) -> dict[str, Any]:
    tools = _list(data, "tools", relative)
    data["tools"] = [
        _picked(_referenced(root, relative, "tools", index, path), TOOL_KEYS, path) for index, path in enumerate(tools)
    ]
    return data


def _strategies(root: Path, relative: str, data: dict[str, Any]) -> dict[str, Any]:
    strategies = _list(data, "strategies", relative)
    loaded = []
    for index, path in enumerate(strategies):
        strategy = _picked(_referenced(root, relative, "strategies", index, path), STRATEGY_KEYS, path)
        strategy["features"] = strategy.get("features", [])
        loaded.append(strategy)
    data["strategies"] = loaded
    return data


def _events(root: Path, relative: str, data: dict[str, Any]) -> dict[str, Any]:
    events = _list(data, "events", relative)
    data["events"] = [
        _picked(_referenced(root, relative, "events", index, path), EVENT_KEYS, path)
        for index, path in enumerate(events)
    ]
    return data


def _datasources(root: Path, relative: str, data: dict[str, Any]) -> dict[str, Any]:
    datasources = _list(data, "datasources", relative)
    data["datasources"] = [
        _referenced(root, relative, "datasources", index, path) for index, path in enumerate(datasources)
    ]
    return data


def _endpoints(root: Path, relative: str, data: dict[str, Any]) -> dict[str, Any]:
    endpoints = _list(data, "endpoints", relative)
    data["endpoints"] = [
        endpoint if isinstance(endpoint, dict) else _referenced(root, relative, "endpoints", index, endpoint)
        for index, endpoint in enumerate(endpoints)
    ]
    return data


def _models(root: Path, relative: str, data: dict[str, Any]) -> dict[str, Any]:
    """`models: {llm: {predefined: [glob, ...]}, ...}`: each glob's YAML files, `_position.yaml` as the order."""
    patterns = data.get("models", {})
    if not isinstance(patterns, dict):
        raise DeclarationError(f"{relative}: models should map model types to {{predefined: [glob, ...]}}")
    models: list[dict[str, Any]] = []
    for model_type in MODEL_TYPES:
        if model_type not in patterns:
            continue
        section = patterns[model_type]
        if not isinstance(section, dict):
            raise DeclarationError(f"{relative}: models.{model_type} should be {{predefined: [glob, ...]}}")
        for pattern in section.get("predefined", []):
            for name in _matching(root, relative, model_type, pattern):
                loaded = _yaml(root, name, f"{name} (matched by {pattern!r} in {relative})")
                if name.endswith("_position.yaml"):
                    if "position" not in data:
                        data["position"] = {}
                    data["position"][model_type] = loaded
                elif not loaded:
                    raise DeclarationError(f"Error loading model entity: {name} is empty")
                else:
                    models.append(_object(loaded, name))
    data["models"] = models
    return data


def _matching(root: Path, relative: str, model_type: str, pattern: Any) -> list[str]:
    """The plugin's files that a model glob matches, as the daemon matches them: `filepath.Match` against each
    file's path inside the plugin, where `*` stays within one folder; nothing outside the plugin is looked at."""
    if not isinstance(pattern, str) or not pattern:
        raise DeclarationError(f"{relative}: models.{model_type}.predefined should list glob patterns")
    parts = pattern.split("/")
    if pattern.startswith("/") or ".." in parts:
        raise DeclarationError(f"{relative}: models.{model_type}: {pattern!r} points outside the plugin folder")
    try:
        matchers = [re.compile(_segment(part)) for part in parts]
    except re.error as error:
        raise DeclarationError(f"{relative}: models.{model_type}: {pattern!r} is not a glob: {error}") from None
    found = []
    for path in _files(root.resolve(), len(parts)):  # in the folder's own order, as the SDK globs it
        names = path.split("/")
        if len(names) == len(parts) and all(m.fullmatch(n) for m, n in zip(matchers, names, strict=True)):
            found.append(path)
    return found


def _segment(glob: str) -> str:
    """One path segment of a Go glob as a regex: `*` and `?` never cross a `/`."""
    out, index = [], 0
    while index < len(glob):
        char = glob[index]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = glob.find("]", index + 2)
            if end < 0:
                raise re.error("unclosed [")
            body = glob[index + 1 : end]
            out.append(f"[{body}]")
            index = end
        elif char == "\\" and index + 1 < len(glob):
            index += 1
            out.append(re.escape(glob[index]))
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def _files(root: Path, depth: int) -> list[str]:
    """The files inside root, at most depth folders down, as posix paths; symlinked folders are not followed."""
    found, stack = [], [(root, 0)]
    while stack:
        folder, level = stack.pop()
        for entry in folder.iterdir():
            if entry.is_symlink() and entry.is_dir():
                continue
            if entry.is_dir() and level + 1 < depth:
                stack.append((entry, level + 1))
            elif entry.is_file():
                found.append(entry.relative_to(root).as_posix())
    return found


RESOLVERS = {
    "tools": _tools,
    "models": _models,
    "endpoints": _endpoints,
    "agent_strategies": _strategies,
    "datasources": _datasources,
    "triggers": _events,
}
