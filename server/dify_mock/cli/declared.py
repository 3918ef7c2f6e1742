"""What a connected plugin declares a tool or an agent strategy takes, so that `dify-mock invoke` can name a missing
required parameter before it invokes anything (Dify's own forms would not let it through either)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dify_mock.cli.console import UsageError
from dify_mock.cli.mock_client import envelope

if TYPE_CHECKING:
    import httpx

# category of the declaration -> the key of its providers' entries
ENTRIES = {"tools": "tools", "agent_strategies": "strategies"}


def declared_parameters(
    client: httpx.Client, tenant: str, plugin: str, category: str, provider: str, name: str
) -> list[dict[str, Any]] | None:
    """The parameters `plugin` declares for `name` of `provider`; None when it does not declare it."""
    for entry in envelope(client.get(f"/plugin/{tenant}/management/list")):
        if entry["plugin_id"] != plugin:
            continue
        for declared in entry["declaration"].get(category) or []:
            if (declared.get("identity") or {}).get("name") != provider:
                continue
            entries = declared.get(ENTRIES[category]) or []
            for item in entries:
                if (item.get("identity") or {}).get("name") == name:
                    return list(item.get("parameters") or [])
            known = ", ".join(str((item.get("identity") or {}).get("name")) for item in entries) or "none"
            noun = "tool" if category == "tools" else "strategy"
            raise UsageError(f"{provider} ({plugin}) has no {noun} {name!r}; it declares: {known}")
    return None


def check_required(parameters: list[dict[str, Any]], given: dict[str, Any], what: str) -> None:
    """UsageError naming every required parameter without a value or a default."""
    missing = [
        parameter
        for parameter in parameters
        if parameter.get("required") and parameter.get("default") in (None, "") and parameter.get("name") not in given
    ]
    if not missing:
        return
    wanted = ", ".join(f"{p['name']} ({p.get('type', 'string')})" for p in missing)
    example = " ".join(_example(p) for p in missing)
    raise UsageError(f"{what} needs {wanted}: add {example}")


def _example(parameter: dict[str, Any]) -> str:
    kind = parameter.get("type", "string")
    if kind in (
        "number",
        "boolean",
        "array",
        "object",
        "model-selector",
        "app-selector",
        "tools-selector",
        "file",
        "files",
    ):
        return f"{parameter['name']}:=<json>"
    return f"{parameter['name']}=VALUE"
