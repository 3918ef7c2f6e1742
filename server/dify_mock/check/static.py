"""The checks that need no process: what the daemon validates when a plugin is packaged and installed.

Each problem is a finding that names the file, the key and, where it can, the line, with the daemon's own words.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from dify_mock.check.findings import Finding, PluginReport, Status
from dify_mock.config.yaml_lines import line_of
from dify_mock.plugins.environments import DAEMON_PYTHON, dependency_files
from dify_mock.plugins.folder import MANIFEST, DeclarationError, PluginFolder, load_plugin_folder
from dify_mock.protocol.words import plural

MAX_PACKAGE_BYTES = 52_428_800  # the daemon's MAX_PLUGIN_PACKAGE_SIZE default
LEFT_OUT = {".venv", ".git", "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules"}
SDK_REQUIREMENT = re.compile(r"^\s*dify[-_]plugin\b\s*(\[[^\]]*\])?\s*(?P<spec>[^;#\n]*)", re.IGNORECASE | re.MULTILINE)
CATEGORIES = {
    "tools": "tool",
    "models": "model",
    "endpoints": "extension",
    "agent_strategies": "agent-strategy",
    "datasources": "datasource",
    "triggers": "trigger",
}


def check_files(root: Path, report: PluginReport) -> PluginFolder | None:
    """Adds the static findings to the report; the folder as the SDK reads it, or None when it cannot be read."""
    manifest = _manifest(root, report)
    if manifest is None:
        return None
    report.plugin_id = f"{manifest.get('author')}/{manifest.get('name')}"
    report.version = str(manifest.get("version"))
    plugins = _mapping(manifest.get("plugins"))
    report.category = next((CATEGORIES[key] for key in CATEGORIES if plugins.get(key)), None)
    if plugins.get("tools") and plugins.get("endpoints"):
        report.category = "tool"
    _python_sources(root, manifest, report)
    try:
        folder = load_plugin_folder(root)
    except DeclarationError as error:
        file, line = _file_and_line(str(error))
        report.add(Finding("declarations", Status.FAIL, str(error), file, line))
        return None
    report.add(Finding("declarations", Status.PASS, _declared(folder)))
    _assets(root, folder, report)
    _runner(root, manifest, report)
    _sdk_pin(root, report)
    _size(root, report)
    return folder


def _manifest(root: Path, report: PluginReport) -> dict[str, Any] | None:
    path = root / MANIFEST
    if not path.is_file():
        report.add(Finding("manifest", Status.FAIL, f"there is no {MANIFEST}: {root} is not a plugin folder", MANIFEST))
        return None
    try:
        manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark is not None else None
        message = f"not valid YAML: {error.problem}; the daemon refuses the package (it cannot decode the manifest)"
        report.add(Finding("manifest", Status.FAIL, message, MANIFEST, line))
        return None
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as error:
        report.add(Finding("manifest", Status.FAIL, f"cannot be read: {error}", MANIFEST))
        return None
    if not isinstance(manifest, dict):
        report.add(Finding("manifest", Status.FAIL, "is not a mapping of keys to values", MANIFEST, 1))
        return None
    report.add(Finding("manifest", Status.PASS, "valid YAML"))
    return manifest


def _file_and_line(message: str) -> tuple[str | None, int | None]:
    found = re.match(r"^([\w./-]+\.ya?ml)(?::(\d+))?", message)
    if found is None:
        return None, None
    return found.group(1), int(found.group(2)) if found.group(2) else None


def _declared(folder: PluginFolder) -> str:
    counts = []
    for category, providers in folder.declarations.items():
        items = sum(len(provider.get(ITEMS[category]) or []) for provider in providers)
        counts.append(f"{category} {len(providers)}" + (f" ({items} inside)" if items else ""))
    return "the SDK reads every file the manifest lists: " + (", ".join(counts) or "nothing declared")


ITEMS = {  # manifest `plugins` key -> the key of a provider declaration that lists what it holds
    "tools": "tools",
    "models": "models",
    "endpoints": "endpoints",
    "agent_strategies": "strategies",
    "datasources": "datasources",
    "triggers": "events",
}


# -- Python sources


def _python_sources(root: Path, manifest: dict[str, Any], report: PluginReport) -> None:
    """Every `extra.python.source` (and a model provider's sources) of every YAML file the manifest reaches."""
    entrypoint = ((manifest.get("meta") or {}).get("runner") or {}).get("entrypoint")
    if isinstance(entrypoint, str) and not (root / f"{entrypoint.replace('.', '/')}.py").is_file():
        line = _line(root / MANIFEST, ["meta", "runner", "entrypoint"])
        message = f"meta.runner.entrypoint: {entrypoint}.py does not exist; the plugin cannot start"
        report.add(Finding("python sources", Status.FAIL, message, MANIFEST, line))
    missing = 0
    for relative, data in _reached_yaml(root, manifest):
        python = ((data.get("extra") or {}).get("python") or {}) if isinstance(data.get("extra"), dict) else {}
        if not isinstance(python, dict):
            continue
        for key in ("source", "provider_source"):
            source = python.get(key)
            if isinstance(source, str) and not (root / source).is_file():
                missing += 1
                line = _line(root / relative, ["extra", "python", key])
                message = f"extra.python.{key}: {source} does not exist; the SDK cannot load this declaration"
                report.add(Finding("python sources", Status.FAIL, message, relative, line))
        for index, source in enumerate(python.get("model_sources") or []):
            if isinstance(source, str) and not (root / source).is_file():
                missing += 1
                line = _line(root / relative, ["extra", "python", "model_sources", index])
                message = f"extra.python.model_sources[{index}]: {source} does not exist"
                report.add(Finding("python sources", Status.FAIL, message, relative, line))
    if not missing:
        report.add(Finding("python sources", Status.PASS, "every extra.python.source exists"))


def _reached_yaml(root: Path, manifest: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    plugins = _mapping(manifest.get("plugins"))
    for paths in plugins.values():
        for provider in paths if isinstance(paths, list) else []:
            data = _load(root, provider)
            if data is None:
                continue
            yield provider, data
            for key in ("tools", "strategies", "datasources", "events", "endpoints"):
                for item in data.get(key) or [] if isinstance(data.get(key), list) else []:
                    if isinstance(item, str):
                        inner = _load(root, item)
                        if inner is not None:
                            yield item, inner


def _load(root: Path, relative: Any) -> dict[str, Any] | None:
    if not isinstance(relative, str) or not (root / relative).is_file():
        return None  # load_plugin_folder names a missing or broken file
    try:
        data = yaml.safe_load((root / relative).read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def permission_line(root: Path) -> int | None:
    """The line of `resource.permission` in the manifest (or of the deepest part of it there is)."""
    return _line(root / MANIFEST, ["resource", "permission"])


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _line(path: Path, keys: list[str | int]) -> int | None:
    try:
        return line_of(yaml.compose(path.read_text(encoding="utf-8")), keys)
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return None


# -- assets


def _assets(root: Path, folder: PluginFolder, report: PluginReport) -> None:
    assets_dir = root / "_assets"
    if not assets_dir.is_dir():
        report.add(Finding("icons", Status.FAIL, "there is no _assets folder: the SDK refuses to start without one"))
        return
    assets = {path.relative_to(assets_dir).as_posix() for path in assets_dir.rglob("*") if path.is_file()}
    missing = [problem for problem in _icon_references(root, folder) if problem[2] not in assets]
    for file, keys, name, daemon in missing:
        message = f"{'.'.join(map(str, keys))}: _assets/{name} does not exist; the daemon refuses the package: {daemon}"
        report.add(Finding("icons", Status.FAIL, message, file, _line(root / file, keys)))
    if not missing:
        report.add(Finding("icons", Status.PASS, f"every icon is in _assets ({plural(len(assets), 'file')})"))


def _icon_references(root: Path, folder: PluginFolder) -> Iterator[tuple[str, list[str | int], str, str]]:
    """(file, keys, asset name, the daemon's message) for every icon the daemon looks up."""
    manifest: dict[str, Any] = folder.manifest
    for key, daemon in (("icon", "plugin icon not found"), ("icon_dark", "plugin dark icon not found")):
        if isinstance(manifest.get(key), str) and manifest[key]:
            yield MANIFEST, [key], manifest[key], daemon
    raw_manifest = _load(root, MANIFEST) or {}
    for category, paths in _mapping(raw_manifest.get("plugins")).items():
        for relative in paths if isinstance(paths, list) else []:
            data = _load(root, relative) or {}
            identity = _mapping(data.get("identity"))
            kind = {"tools": "tool", "triggers": "trigger", "datasources": "datasource"}.get(category)
            if kind and isinstance(identity.get("icon"), str) and identity["icon"]:
                yield relative, ["identity", "icon"], identity["icon"], f"{kind} icon not found"
            if category == "models":
                for size in ("icon_small", "icon_large"):
                    icons = _mapping(data.get(size))
                    for language, name in icons.items():
                        if isinstance(name, str) and name:
                            words = f"model icon {size.split('_')[1]} {language} not found"
                            yield relative, [size, language], name, words


# -- runner, SDK and size


def _runner(root: Path, manifest: dict[str, Any], report: PluginReport) -> None:
    runner = (manifest.get("meta") or {}).get("runner") or {}
    version = str(runner.get("version", ""))
    line = _line(root / MANIFEST, ["meta", "runner", "version"])
    if version != DAEMON_PYTHON:
        message = f"meta.runner.version is {version!r}; the daemon makes every environment with Python {DAEMON_PYTHON}"
        report.add(Finding("python version", Status.WARN, message, MANIFEST, line))
    else:
        report.add(Finding("python version", Status.PASS, f"Python {DAEMON_PYTHON}, as the daemon runs it"))


def _sdk_pin(root: Path, report: PluginReport) -> None:
    files = dependency_files(root)
    if not files:
        message = "neither pyproject.toml nor requirements.txt: the daemon refuses to install the plugin"
        report.add(Finding("dependencies", Status.FAIL, message))
        return
    source = files[0]
    specs = _sdk_specs(source)
    if specs is None:
        message = f"{source.name} does not list dify_plugin: the plugin's environment would not have the SDK"
        report.add(Finding("dependencies", Status.FAIL, message, source.name))
        return
    locked = _locked_sdk(files[1]) if len(files) > 1 else None
    pinned = f"dify_plugin{specs or ' (any version)'}" + (f", {locked} in uv.lock" if locked else "")
    if not specs or not any(operator in specs for operator in (">", "=", "~")):
        message = f"{pinned}: without a lower bound, an SDK too old for the manifest may be installed"
        report.add(Finding("dependencies", Status.WARN, message, source.name))
    elif len(files) > 1 and locked is None:
        message = f"{pinned}, but uv.lock has no dify-plugin: `uv sync --frozen` would fail; run `uv lock`"
        report.add(Finding("dependencies", Status.FAIL, message, "uv.lock"))
    else:
        report.add(Finding("dependencies", Status.PASS, f"{pinned} ({source.name})"))


def _sdk_specs(source: Path) -> str | None:
    text = source.read_text(encoding="utf-8", errors="replace")
    if source.name == "pyproject.toml":
        try:
            project = tomllib.loads(text).get("project") or {}
        except tomllib.TOMLDecodeError:
            return None
        text = "\n".join(str(item) for item in project.get("dependencies") or [])
    found = SDK_REQUIREMENT.search(text)
    return None if found is None else found.group("spec").strip().replace(" ", "")


def _locked_sdk(lock: Path) -> str | None:
    try:
        packages = tomllib.loads(lock.read_text(encoding="utf-8")).get("package") or []
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
        return None
    for package in packages:
        if str(package.get("name", "")).replace("_", "-") == "dify-plugin":
            return f"dify-plugin {package.get('version')}"
    return None


def _size(root: Path, report: PluginReport) -> None:
    total = 0
    for path in root.rglob("*"):
        if path.is_file() and not LEFT_OUT.intersection(path.relative_to(root).parts):
            total += path.stat().st_size
    mib = total / 1024 / 1024
    if total > MAX_PACKAGE_BYTES:
        message = f"{mib:.1f} MiB, over the daemon's MAX_PLUGIN_PACKAGE_SIZE of 50 MiB: the upload is refused"
        report.add(Finding("size", Status.FAIL, message))
    else:
        report.add(Finding("size", Status.PASS, f"{mib:.1f} MiB of the daemon's 50 MiB"))
