"""The broken-plugin corpus: plugin folders of our own, each one rule of `dify plugin package` or the daemon's
upload and install away from a working plugin. A case is a base plugin of `tests/plugins` and a change to it, made
on the fly into a temporary folder (a few cases need a 51 MiB file, which is not committed).

`verdicts.json` beside this file records what the real CLI and daemon did with each case (`record.py` writes it,
`test_package_verdicts.py` holds `dify-mock check` to it, and re-derives it when DIFY_DAEMON_CTL is set).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
VERDICTS = Path(__file__).with_name("verdicts.json")
UUID = "0b7c4f3e-8d2a-4c61-9f1e-3a5b6c7d8e9f"


@dataclass(frozen=True)
class Case:
    base: str
    change: Callable[[Path], None]
    about: str


def _yaml_edit(relative: str, edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        path = folder / relative
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        edit(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")

    return change


def manifest(edit: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    return _yaml_edit("manifest.yaml", edit)


def setting(*keys: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        for key in keys[:-1]:
            data = data.setdefault(key, {})
        if value is DELETE:
            data.pop(keys[-1], None)
        else:
            data[keys[-1]] = value

    return edit


DELETE = object()


def write(relative: str, text: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text, encoding="utf-8")

    return change


def remove(relative: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        path = folder / relative
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    return change


def big_file(relative: str, mib: int) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        with open(folder / relative, "wb") as out:
            out.truncate(mib * 1024 * 1024)  # sparse: costs no disk, counts as its full size

    return change


def both(*changes: Callable[[Path], None]) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        for each in changes:
            each(folder)

    return change


def also_declares(key: str, path: str, source: str) -> Callable[[Path], None]:
    """Adds another kind of provider, copied from another base plugin, to the manifest."""

    def change(folder: Path) -> None:
        origin = PLUGINS / source
        for item in origin.iterdir():
            if item.name in ("manifest.yaml", "main.py", "requirements.txt", "_assets", "__pycache__"):
                continue
            target = folder / item.name
            if item.is_dir():
                shutil.copytree(item, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
            elif not target.exists():
                shutil.copy(item, target)
        manifest(lambda data: data["plugins"].setdefault(key, []).append(path))(folder)

    return change


CASES: dict[str, Case] = {
    # a working plugin of each kind, as the control group
    "tool_as_is": Case("web_search", lambda _: None, "a working tool plugin"),
    "model_as_is": Case("model_provider", lambda _: None, "a working model plugin"),
    "agent_strategy_as_is": Case("simple_agent", lambda _: None, "a working agent strategy plugin"),
    "datasource_as_is": Case("datasource_plugin", lambda _: None, "a working datasource plugin"),
    "endpoint_as_is": Case("endpoint_plugin", lambda _: None, "a working endpoint plugin"),
    # version formats
    "version_v_prefix": Case("web_search", manifest(setting("version", value="v1.0.0")), "version v1.0.0"),
    "version_two_parts": Case("web_search", manifest(setting("version", value="1.0")), "version 1.0"),
    "version_four_parts": Case("web_search", manifest(setting("version", value="1.0.0.1")), "version 1.0.0.1"),
    "version_prerelease": Case("web_search", manifest(setting("version", value="1.0.0-beta1")), "1.0.0-beta1"),
    "version_five_digits": Case("web_search", manifest(setting("version", value="10000.0.0")), "10000.0.0"),
    "meta_version_not_semver": Case(
        "web_search", manifest(setting("meta", "version", value="abc")), "meta.version abc"
    ),
    # author and name
    "author_uuid": Case("web_search", manifest(setting("author", value=UUID)), "author is a UUID"),
    "author_uppercase": Case("web_search", manifest(setting("author", value="DifyMock")), "author DifyMock"),
    "author_empty": Case("web_search", manifest(setting("author", value="")), "author empty"),
    "name_uppercase": Case("web_search", manifest(setting("name", value="WebSearch")), "name WebSearch"),
    "name_with_dot": Case("web_search", manifest(setting("name", value="web.search")), "name web.search"),
    "name_129_characters": Case("web_search", manifest(setting("name", value="w" * 129)), "name of 129 characters"),
    # tags
    "manifest_tag_unknown": Case("web_search", manifest(setting("tags", value=["nonsense"])), "tag nonsense"),
    "manifest_tags_known": Case("web_search", manifest(setting("tags", value=["search", "utilities"])), "known tags"),
    "provider_tag_unknown": Case(
        "web_search",
        _yaml_edit("provider/web_search.yaml", setting("identity", "tags", value=["nonsense"])),
        "a tool provider tag nonsense",
    ),
    # mixed categories
    "model_and_tool": Case(
        "model_provider", also_declares("tools", "provider/web_search.yaml", "web_search"), "a model plugin with a tool"
    ),
    "tool_and_endpoint": Case(
        "web_search",
        also_declares("endpoints", "endpoints/group.yaml", "endpoint_plugin"),
        "a tool plugin with an endpoint",
    ),
    "agent_strategy_and_tool": Case(
        "simple_agent",
        also_declares("tools", "provider/web_search.yaml", "web_search"),
        "an agent strategy with a tool",
    ),
    "trigger_and_tool": Case("trigger_plugin", lambda _: None, "a trigger plugin that also declares a tool"),
    "nothing_declared": Case("web_search", manifest(setting("plugins", value={})), "plugins: {}"),
    # icons and assets
    "icon_missing": Case("web_search", remove("_assets/icon.svg"), "the plugin icon is not in _assets"),
    "icon_dark_missing": Case("web_search", manifest(setting("icon_dark", value="dark.svg")), "icon_dark not there"),
    "tool_icon_missing": Case(
        "web_search",
        _yaml_edit("provider/web_search.yaml", setting("identity", "icon", value="other.svg")),
        "the tool provider's icon is not in _assets",
    ),
    "model_icon_missing": Case(
        "model_provider",
        _yaml_edit("provider/fake.yaml", setting("icon_small", value={"en_US": "small.svg"})),
        "icon_small en_US not in _assets",
    ),
    "icon_left_out_by_difyignore": Case(
        "web_search", write(".difyignore", "_assets/icon.svg\n"), "the icon is there but .difyignore leaves it out"
    ),
    # sizes
    "size_51_mib": Case("web_search", big_file("data.bin", 51), "51 MiB of data"),
    "size_51_mib_ignored": Case(
        "web_search", both(big_file("data.bin", 51), write(".difyignore", "data.bin\n")), "51 MiB, left out"
    ),
    "size_51_mib_gitignored": Case(
        "web_search", both(big_file("data.bin", 51), write(".gitignore", "*.bin\n")), "51 MiB, in .gitignore only"
    ),
    # .difyignore
    "difyignore_leaves_out_a_tool": Case(
        "web_search", write(".difyignore", "tools/search.yaml\n"), ".difyignore leaves out a declared tool file"
    ),
    "difyignore_leaves_out_the_entrypoint": Case(
        "web_search", write(".difyignore", "main.py\n"), ".difyignore leaves out main.py"
    ),
    # dependency files
    "no_dependency_file": Case("web_search", remove("requirements.txt"), "neither requirements.txt nor pyproject"),
    "requirements_without_sdk": Case("web_search", write("requirements.txt", "httpx\n"), "no dify_plugin listed"),
    # every declaration kind, each with a file it lists missing
    "tool_file_missing": Case("web_search", remove("tools/search.yaml"), "a tool YAML the provider lists"),
    "model_provider_file_missing": Case("model_provider", remove("provider/fake.yaml"), "the model provider YAML"),
    "endpoint_file_missing": Case("endpoint_plugin", remove("endpoints/echo_get.yaml"), "an endpoint YAML"),
    "strategy_file_missing": Case("simple_agent", remove("strategies/echo.yaml"), "a strategy YAML"),
    "datasource_file_missing": Case("datasource_plugin", remove("datasources/crawler.yaml"), "a datasource YAML"),
    "tool_yaml_wrong_shape": Case(
        "web_search", write("tools/search.yaml", "identity: just a string\n"), "a tool YAML whose identity is a string"
    ),
    "tool_source_missing": Case("web_search", remove("tools/search.py"), "the tool's Python file"),
    "entrypoint_missing": Case("web_search", remove("main.py"), "main.py"),
    "manifest_not_yaml": Case("web_search", write("manifest.yaml", "version: [1.0\n"), "manifest.yaml is not YAML"),
    "manifest_without_label": Case("web_search", manifest(setting("label", value=DELETE)), "no label"),
    "arch_unknown": Case("web_search", manifest(setting("meta", "arch", value=["x86"])), "meta.arch x86"),
    "repo_not_a_url": Case("web_search", manifest(setting("repo", value="not a url")), "repo is not a URL"),
}


def make(name: str, into: Path) -> Path:
    """The case's plugin folder, made under into/name."""
    case = CASES[name]
    folder = into / name
    shutil.copytree(PLUGINS / case.base, folder, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    case.change(folder)
    return folder
