"""Where a value sits in a YAML file, so that errors can name the line."""

from __future__ import annotations

from collections.abc import Sequence

import yaml


def line_of(root: yaml.Node | None, path: Sequence[str | int]) -> int | None:
    """The 1-based line of the key or item at path (or of the deepest part of it that is found)."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            entries = ((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part))
            entry = next(entries, None)
            if entry is None:
                break
            line, node = entry[0].start_mark.line + 1, entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
