"""The one normalisation of the conformance suite: what may differ between the real daemon and dify-mock because it
is not the same run, and nothing else.

- JSON text inside JSON (the daemon's error `message` holds JSON, and so does the plugin's own error in it) is
  parsed, so that key order and escaping do not count: the daemon re-encodes with Go's sorted map keys;
- paths: the daemon's storage folder, a plugin's working folder (the daemon's `cwd/<author>/<name>-<version>@<checksum>/`, ours the folder
  itself) and its environment's `site-packages/`;
- the mock's address (each side has its own mock on its own port) and the signatures and timestamps of upload and
  file URLs, which sign that address with each mock's own key;
- strings over 64 kB are replaced by their length and SHA-256 (equal exactly when the strings are);
- in the journals: only the reverse calls that reach Dify's API, their requests without the daemon's additions
  (see `reaches_dify` and `reverse_call` below);
- run-dependent values: `latency` and `elapsed_time` (measured), `created_at` and `finished_at` (clock seconds) (seconds measured in the run), and UUIDs and 32-digit hex ids (request and
  session ids made per call).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

SITE_PACKAGES = re.compile(r'[^"\s]*/site-packages/')
PLUGIN_FOLDER = re.compile(
    r"[^\"\s]*/(?:tests/plugins/(?P<ours>\w+)|dify-mock-tests/(?P<theirs>\w+)-\d+\.\d+\.\d+@[0-9a-f]{64})/"
)
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")
DAEMON_STORAGE = re.compile(r"[^\s\"]*/storage/(persistence/)")  # the daemon's storage folder, in its errors
LOOPBACK_URL = re.compile(r"http://127\.0\.0\.1:\d+")
RUN_DEPENDENT_KEYS = frozenset({"latency", "elapsed_time", "created_at", "finished_at"})
SIGNATURE = re.compile(r"([?&](?:sign|timestamp)=)[^&\s\"]+")
LONG = 65536  # a longer string is compared by its length and digest, which keeps the diff readable


def _text(value: str) -> Any:
    if len(value) > LONG:
        return f"<{len(value)} characters, sha256 {hashlib.sha256(value.encode()).hexdigest()}>"
    stripped = value.strip()
    if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
        try:
            return normalise(json.loads(stripped))
        except ValueError:
            pass
    if "/site-packages/" in value:
        value = SITE_PACKAGES.sub("<site-packages>/", value)
    if "tests/plugins/" in value or "dify-mock-tests/" in value:
        value = PLUGIN_FOLDER.sub(lambda m: f"<plugin {m['ours'] or m['theirs']}>/", value)
    if "/storage/persistence/" in value:
        value = DAEMON_STORAGE.sub(r"\1", value)
    value = LOOPBACK_URL.sub("http://<mock>", value)
    value = SIGNATURE.sub(r"\1<signature>", value)
    value = UUID.sub("<uuid>", value)
    return HEX_ID.sub("<id>", value)


def normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: "<run-dependent>" if key in RUN_DEPENDENT_KEYS else normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, str):
        return _text(value)
    return value


# The reverse calls of the two journals. The daemon answers some calls itself, so its Dify API (the inner mock) never
# sees them: storage, and those it refuses (permissions, its struct validation); dify-mock journals them. And it
# forwards a request re-encoded from its Go struct: it adds tenant_id, user_id and type, and every field the struct
# has that the plugin left out, at its zero value ("", 0, false, null); it drops what the struct does not have.
ANSWERED_BY_THE_DAEMON_ITSELF = frozenset({"permissions", "validation"})
ADDED_BY_THE_DAEMON = ("tenant_id", "user_id", "type")
DROPPED_BY_THE_DAEMON = ("model_type",)  # in the SDK's model config, in none of the daemon's request structs


def reaches_dify(entry: dict[str, Any]) -> bool:
    return entry.get("type") != "storage" and entry.get("answered_by") not in ANSWERED_BY_THE_DAEMON_ITSELF


def _without_zero_values(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _without_zero_values(item)
            for key, item in value.items()
            if not (item is None or item == "" or item is False or (type(item) in (int, float) and item == 0))
        }
    if isinstance(value, list):
        return [_without_zero_values(item) for item in value]
    return value


def reverse_call(entry: dict[str, Any]) -> dict[str, Any]:
    """What the suite compares of a journal entry of a reverse call."""
    request = entry.get("request")
    if isinstance(request, dict):
        kept = {k: v for k, v in request.items() if k not in ADDED_BY_THE_DAEMON + DROPPED_BY_THE_DAEMON}
        request = _without_zero_values(kept)
    return normalise(
        {
            "type": entry.get("type"),
            "request": request,
            "response": entry.get("response"),
            "error": entry.get("error"),
            "answered_by": entry.get("answered_by"),
        }
    )
