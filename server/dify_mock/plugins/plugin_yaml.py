"""A plugin's own YAML files (manifest, providers, tools, models, ...), read within bounds before they are parsed.

A plugin folder or package may come from anyone, so each file is measured before it is read, its path must stay
inside the plugin, and YAML aliases may not expand past a node budget ("billion laughs"). Aliases themselves are
allowed: official plugins use anchors. Every refusal is a `PluginYamlError` whose text is one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_YAML_BYTES = 4 * 1024 * 1024  # the largest declaration file of the official plugins is 0.2 MiB
MAX_YAML_NODES = 1_000_000  # after alias expansion; the official plugins' largest file has about 15,000
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class PluginYamlError(ValueError):
    """The file cannot be read as a plugin's YAML: `relative:line: problem`, one line."""

    def __init__(self, relative: str, problem: str, line: int | None = None) -> None:
        super().__init__(f"{relative}{f':{line}' if line else ''}: {problem}")
        self.relative, self.problem, self.line = relative, problem, line


def inside(root: Path, relative: str) -> Path:
    """root/relative, resolved (symlinks too); refused when it lands outside root."""
    base = root.resolve()
    path = (base / relative).resolve()
    if path != base and base not in path.parents:
        raise PluginYamlError(relative, "the path points outside the plugin folder; refused")
    return path


def read_plugin_yaml(root: Path, relative: str) -> Any:
    """The parsed content of root/relative; PluginYamlError when it is missing, too big, too deep or not YAML."""
    path = inside(root, relative)
    if not path.is_file():
        raise FileNotFoundError(relative)
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        mib = MAX_YAML_BYTES // 1024 // 1024
        problem = f"{size} bytes, over the {mib} MiB a plugin's YAML file may have; not parsed"
        raise PluginYamlError(relative, problem)
    try:
        return parse_bounded(path.read_bytes().decode("utf-8"), relative)
    except UnicodeDecodeError as error:
        raise PluginYamlError(relative, f"not UTF-8 text ({error.reason} at byte {error.start})") from None


def parse_bounded(text: str, relative: str) -> Any:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        nodes = expanded_size(node)
        if nodes > MAX_YAML_NODES:
            raise PluginYamlError(
                relative,
                f'its YAML aliases expand to more than {MAX_YAML_NODES:,} nodes (an alias bomb, "billion laughs"); '
                "refused",
            )
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise PluginYamlError(relative, f"not valid YAML: {error.problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as error:
        raise PluginYamlError(relative, f"not valid YAML: {str(error).splitlines()[0]}") from None
    except RecursionError:
        raise PluginYamlError(relative, "nested too deeply to be read; refused") from None
    finally:
        loader.dispose()


def expanded_size(root: yaml.Node) -> int:
    """How many nodes the document has once every alias is expanded, counted without expanding (stops past the
    budget). An alias is the same node object as its anchor, so each node's size is computed once."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done or not children:
            total = 1 + sum(sizes.get(id(child), 0) for child in children)
            sizes[id(node)] = min(total, MAX_YAML_NODES + 1)
            open_nodes.discard(id(node))
            continue
        if id(node) in open_nodes:
            return MAX_YAML_NODES + 1  # an alias inside its own anchor: endless once expanded
        open_nodes.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
