"""What a connected plugin is, in the one line that says it connected: its SDK release and what it declares."""

from __future__ import annotations

from typing import Any

from dify_mock.host import Host
from dify_mock.plugins.registry import PluginRuntime

# category -> (the key of a provider's entries, how the line names them)
NAMED_ENTRIES = {
    "tools": ("tools", "tools"),
    "agent_strategies": ("strategies", "agent strategies"),
    "datasources": ("datasources", "datasources"),
    "triggers": ("events", "trigger events"),
}


def sdk_release(host: Host, plugin_id: str) -> str | None:
    """The dify-plugin release of a plugin dify-mock started itself (it asked its Python), else None."""
    for launch in host.settings.launches:
        if launch.plugin_id == plugin_id and launch.sdk_version:
            return launch.sdk_version
    return None


def offer(runtime: PluginRuntime) -> str:
    """What a plugin declares, in one log line; declarations of an unexpected shape are named, not trusted."""
    parts = []
    for category, providers in runtime.declarations.items():
        for provider in providers:
            if category in NAMED_ENTRIES:
                key, noun = NAMED_ENTRIES[category]
                entries = _field(provider, key)
                names = [_field(entry, "identity", "name") for entry in entries] if isinstance(entries, list) else []
                parts.append(f"{noun} {_field(provider, 'identity', 'name')}: {', '.join(map(str, names))}")
            elif category == "models":
                models = _field(provider, "models")
                parts.append(f"models {_field(provider, 'provider')}: {len(models) if isinstance(models, list) else 0}")
            else:
                parts.append(category)
    return "; ".join(parts) or "nothing"


def _field(node: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node
