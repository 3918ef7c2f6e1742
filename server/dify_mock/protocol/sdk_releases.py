"""Which dify-plugin release a plugin runs, told from what it sends at registration. No I/O here.

The wire has been stable since 0.0.1b18 (typed registration messages); what changed is the manifest the SDK
dumps, so its keys date the release. Before 0.0.1b18 the SDK sent its key as a bare line and its declarations
untyped (manifest, tools, models, endpoints, files, each on its own line), which no daemon reads any more.
"""

from __future__ import annotations

import re
from typing import Any

OLDEST_SUPPORTED = "0.0.1b18"
LEGACY_RELEASES = "dify-plugin 0.0.1b17 or older"
LEGACY_REFUSAL = (
    f"handshake failed: this plugin runs {LEGACY_RELEASES}, which sends its key as a bare line and its "
    f"declarations untyped; dify-mock, like Dify's plugin daemon, needs dify-plugin {OLDEST_SUPPORTED} or newer "
    "(pin dify_plugin>=0.1 in requirements.txt)"
)
# A REMOTE_INSTALL_KEY as the legacy SDK writes it: `key.encode() + b"\n"`.
BARE_KEY = re.compile(rb"^[\x21-\x7e]{1,256}$")

# (manifest key path that appeared, the release that introduced it), newest first
MANIFEST_MARKERS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("plugins", "triggers"), "0.6"),
    (("plugins", "datasources"), "0.5"),
    (("icon_dark",), "0.4"),
    (("meta", "minimum_dify_version"), "0.2"),
    (("plugins", "agent_strategies"), "0.0.1b51"),
)


def is_bare_key(line: bytes) -> bool:
    """True for a first line that is not JSON but a plain key: the handshake of dify-plugin 0.0.1b17 and older."""
    stripped = line.strip()
    return bool(BARE_KEY.match(stripped)) and stripped[:1] not in (b"{", b"[", b'"')


def _has(manifest: dict[str, Any], path: tuple[str, ...]) -> bool:
    node: Any = manifest
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def release_from_manifest(manifest: dict[str, Any]) -> str:
    """The release range the manifest's keys point to, e.g. `>=0.6` or `0.2-0.3`; the SDK dumps every field."""
    for index, (path, release) in enumerate(MANIFEST_MARKERS):
        if _has(manifest, path):
            newer = MANIFEST_MARKERS[index - 1][1] if index > 0 else None
            return f">={release}" if newer is None else f">={release},<{newer}"
    return f"<{MANIFEST_MARKERS[-1][1]}"
