"""The load plugin (`bench/plugin_load`): copies of it under names of their own, the call of its `sequence` tool, and
the check of what one call streamed. The load bench and tests/test_load.py both use it.

`sequence` streams `count` text messages `"<tag>:<index>"`, index 0 to count - 1: a call that got exactly its own
tag's messages, every index once and in order, lost nothing, duplicated nothing and received no other call's chunk.
(`tag`, not `token`: the journal masks the values of parameters named like a token.)
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

PLUGIN_DIR = Path(__file__).resolve().parent / "plugin_load"
AUTHOR = "dify-mock-bench"
PROVIDER = "load"
TOOL = "sequence"
MANIFEST_NAME = re.compile(r'^name: "bench_load"$', re.MULTILINE)


def copy_plugin(destination: Path, name: str) -> str:
    """Copy the load plugin into `destination` (which must not exist) with manifest name `name`; its plugin id."""
    shutil.copytree(PLUGIN_DIR, destination, ignore=shutil.ignore_patterns("__pycache__", ".env"))
    manifest = destination / "manifest.yaml"
    text, renamed = MANIFEST_NAME.subn(f'name: "{name}"', manifest.read_text(encoding="utf-8"))
    if renamed != 1:
        raise ValueError(f'{PLUGIN_DIR / "manifest.yaml"}: no line `name: "bench_load"` to rename')
    manifest.write_text(text, encoding="utf-8")
    return f"{AUTHOR}/{name}"


def tool_data(tag: str, count: int, delay_ms: float = 0) -> dict[str, Any]:
    """The `data` of a dispatch body (`POST /plugin/{tenant}/dispatch/tool/invoke`) calling `sequence`."""
    return {
        "provider": PROVIDER,
        "tool": TOOL,
        "tool_parameters": {"tag": tag, "count": count, "delay_ms": delay_ms},
        "credentials": {},
        "credential_type": "api-key",
    }


def check_stream(tag: str, count: int, chunks: list[Any]) -> str | None:
    """None when `chunks` are exactly the text messages `"<tag>:0"` ... `"<tag>:<count - 1>"` in this order;
    otherwise what is wrong: chunks of other calls, lost, duplicated or misordered indexes, malformed chunks."""
    problems: list[str] = []
    own: list[int] = []
    foreign: list[str] = []
    for position, chunk in enumerate(chunks):
        message = chunk.get("message") if isinstance(chunk, dict) else None
        text = message.get("text") if isinstance(message, dict) else None
        text = text if isinstance(text, str) else ""
        owner, _, index = text.rpartition(":")
        if not owner or not index.isdigit() or chunk.get("type") != "text":
            problems.append(f"chunk {position} is not a sequence text message: {str(chunk)[:120]}")
        elif owner != tag:
            foreign.append(text)
        else:
            own.append(int(index))
    if foreign:
        problems.append(f"{len(foreign)} chunks of other calls: {', '.join(foreign[:5])}")
    seen = Counter(own)
    lost = [index for index in range(count) if index not in seen]
    duplicated = sorted(index for index, times in seen.items() if times > 1)
    unexpected = sorted(index for index in seen if index >= count)
    if lost:
        problems.append(f"lost {len(lost)} of {count}: indexes {_some(lost)}")
    if duplicated:
        problems.append(f"duplicated indexes {_some(duplicated)}")
    if unexpected:
        problems.append(f"indexes beyond {count - 1}: {_some(unexpected)}")
    backwards = next((position for position in range(1, len(own)) if own[position] < own[position - 1]), None)
    if backwards is not None:
        problems.append(f"out of order: index {own[backwards]} came after {own[backwards - 1]}")
    return "; ".join(problems) or None


def _some(indexes: list[int]) -> str:
    return ", ".join(map(str, indexes[:10])) + (", ..." if len(indexes) > 10 else "")
