"""The reverse calls a plugin made, read from the journal, against what its manifest grants."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from dify_mock.check.findings import Finding, PluginReport, Status
from dify_mock.plugins.folder import MANIFEST
from dify_mock.reverse.permissions import REQUIRED_PERMISSION, permission_error


def audit_reverse_calls(
    entries: Sequence[Mapping[str, Any]], manifest: dict[str, Any], report: PluginReport, line: int | None = None
) -> None:
    """Counts the calls by type; a call of a type the manifest does not grant fails, with the lines to add."""
    calls = Counter(str(entry.get("type")) for entry in entries)
    report.reverse_calls = dict(sorted(calls.items()))
    for invoke_type in sorted(calls):
        refused = permission_error(manifest, invoke_type, "tool")
        if refused is None:
            report.add(Finding(f"permission {invoke_type}", Status.PASS, f"granted ({calls[invoke_type]} calls)"))
            continue
        message = f"the plugin calls {invoke_type}, which is not granted ({refused}): add {grant(invoke_type)}"
        report.add(Finding(f"permission {invoke_type}", Status.FAIL, message, MANIFEST, line))


def grant(invoke_type: str) -> str:
    """The manifest lines that grant a reverse call, as one line: `resource.permission.model: {enabled: true, llm: true}`."""
    path, _ = REQUIRED_PERMISSION.get(invoke_type, ((invoke_type,), invoke_type))
    if not path:
        return "nothing (always allowed)"
    flags = "enabled: true" + (f", {path[1]}: true" if len(path) > 1 else "")
    return f"resource.permission.{path[0]}: {{{flags}}}"
