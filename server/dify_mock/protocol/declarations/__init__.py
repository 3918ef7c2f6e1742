"""The shapes of a plugin's declarations, as dify_plugin 0.10.2 validates and dumps them. Pure: no file access.
One module per declaration kind; `providers.py` maps a manifest's `plugins` keys to them.

Each model mirrors the SDK's entity of the same name: the same fields in the same order, the same types, defaults,
aliases and normalising validators, so that `model_dump(mode="json")` gives what the SDK sends in its
`*_declaration` messages (I18n texts expanded to all four languages, defaults filled in). File references (a tool's
YAML, a model's YAML, ...) are resolved by the folder loader before these models see the data; the loader keeps the
SDK's rules for which keys of those files count. A contract test compares the result with a real SDK process.
"""

from dify_mock.protocol.declarations.manifest import PluginConfiguration
from dify_mock.protocol.declarations.providers import PROVIDER_MODELS, daemon_manifest_problem

__all__ = ["PROVIDER_MODELS", "PluginConfiguration", "daemon_manifest_problem"]
