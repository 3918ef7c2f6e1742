"""Endpoint hooks: `/e/{hook_id}/...` URLs bound to a plugin and its settings, as the daemon keeps them.

Hooks made through the API are kept in SQLite under the data folder and survive restarts, except the values of
`secret-input` settings: those never reach the disk and are asked for again after a restart. Hooks from the
config file are rebuilt from it at every start, with stable hook ids.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import sqlite3
import string
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dify_mock.config.file import HookConfig
from dify_mock.store.disk import write_failure
from dify_mock.store.redaction import remember_secret

SECRET_INPUT = "secret-input"
MAX_SETTINGS = 64
NEVER_EXPIRES = "2050-01-01T00:00:00Z"
HOOK_ALPHABET = string.ascii_lowercase + string.digits
SCHEMA = """
CREATE TABLE IF NOT EXISTS endpoint_hooks (
    id TEXT PRIMARY KEY,
    hook_id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    plugin_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    settings TEXT NOT NULL,
    secret_names TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Hook:
    id: str
    hook_id: str
    tenant_id: str
    plugin_id: str
    user_id: str
    name: str
    enabled: bool
    settings: dict[str, Any]
    secret_names: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    from_config: bool = False

    @property
    def lost_secrets(self) -> list[str]:
        """Secret settings this hook had before a restart and has not been given again."""
        return [name for name in self.secret_names if name not in self.settings]

    def describe(self, declaration: Mapping[str, Any] | None) -> dict[str, Any]:
        """The daemon's endpoint entry (`models.Endpoint`), secret settings masked as the daemon masks them."""
        configs = list((declaration or {}).get("settings") or [])
        return {
            "id": self.id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "name": self.name,
            "hook_id": self.hook_id,
            "tenant_id": self.tenant_id,
            "user_id": self.user_id,
            "plugin_id": self.plugin_id,
            "expired_at": NEVER_EXPIRES,
            "enabled": self.enabled,
            "settings": mask_settings(self.settings, secret_setting_names(configs) | set(self.secret_names)),
            "declaration": dict(declaration) if declaration else {"settings": [], "endpoints": []},
        }


def secret_setting_names(configs: Iterable[Mapping[str, Any]]) -> set[str]:
    return {str(config.get("name")) for config in configs if config.get("type") == SECRET_INPUT}


def mask_secret(value: str) -> str:
    """The daemon's mask: the first and last two characters of a value longer than 6, stars for the rest."""
    if len(value) > 6:
        return value[:2] + "*" * (len(value) - 4) + value[-2:]
    return "*" * len(value)


def mask_settings(settings: Mapping[str, Any], secret_names: set[str]) -> dict[str, Any]:
    for name in secret_names:
        remember_secret(settings.get(name))
    return {
        name: mask_secret(value) if name in secret_names and isinstance(value, str) else value
        for name, value in settings.items()
    }


def validate_settings(settings: Mapping[str, Any], configs: Iterable[Mapping[str, Any]]) -> str | None:
    """The daemon's ValidateProviderConfigs: a message naming the first problem, or None."""
    if len(settings) > MAX_SETTINGS:
        return f"too many setting fields ({len(settings)}; at most {MAX_SETTINGS})"
    for config in configs:
        name = str(config.get("name"))
        value = settings.get(name)
        if value is None:
            if config.get("required"):
                return f"missing required setting: {name}"
            continue
        kind = config.get("type")
        if kind in ("text-input", SECRET_INPUT, "select") and not isinstance(value, str):
            return f"setting {name} is not a string"
        if kind == "select":
            options = [option.get("value") for option in config.get("options") or [] if isinstance(option, dict)]
            if value not in options:
                return f"setting {name} is not a valid option (expected one of: {', '.join(map(str, options))})"
        if kind == "boolean" and not isinstance(value, bool):
            return f"setting {name} is not a boolean"
        if kind in ("app-selector", "model-selector") and not isinstance(value, dict):
            return f"setting {name} is not a map"
        if kind == "app-selector" and "app_id" not in value:
            return f"setting {name} is missing app_id"
    return None


def endpoint_declaration(declarations: Mapping[str, Any]) -> dict[str, Any] | None:
    """The plugin's endpoint group; like the daemon, the first one when a plugin declares several."""
    groups = declarations.get("endpoints") or []
    return dict(groups[0]) if groups and isinstance(groups[0], dict) else None


def config_hook_id(tenant_id: str, plugin_id: str, name: str) -> str:
    """A hook id that stays the same from one start to the next for a hook of the config file."""
    return hashlib.sha256(f"{tenant_id}\0{plugin_id}\0{name}".encode()).hexdigest()[:16]


def add_config_hooks(store: HookStore, entries: Iterable[HookConfig]) -> HookStore:
    """The store, with the config file's hooks added; ValueError names an id used twice."""
    hooks = []
    for entry in entries:
        hooks.append(
            store.add_from_config(
                entry.tenant, entry.plugin_id, entry.name, entry.settings, entry.hook_id, entry.enabled
            )
        )
    ids = [hook.hook_id for hook in hooks]
    duplicated = sorted({hook_id for hook_id in ids if ids.count(hook_id) > 1})
    if duplicated:
        raise ValueError(
            f"endpoints: hook id {duplicated[0]!r} is given to two hooks; give each a name or hook_id of its own"
        )
    return store


class HookWriteError(Exception):
    """A hook could not be written to disk (say, the data folder is full); nothing was changed."""


class HookStore:
    """Every hook in memory; hooks made through the API also written to SQLite, secrets left out.

    A change reaches memory only after it is on disk, so a failed write changes nothing.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.folder = path.parent
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(SCHEMA)
        self._hooks: dict[str, Hook] = {}
        for row in self.db.execute(
            "SELECT id, hook_id, tenant_id, plugin_id, user_id, name, enabled, settings, secret_names, "
            "created_at, updated_at FROM endpoint_hooks"
        ):
            hook = Hook(
                id=row[0],
                hook_id=row[1],
                tenant_id=row[2],
                plugin_id=row[3],
                user_id=row[4],
                name=row[5],
                enabled=bool(row[6]),
                settings=json.loads(row[7]),
                secret_names=json.loads(row[8]),
                created_at=row[9],
                updated_at=row[10],
            )
            self._hooks[hook.hook_id] = hook

    def close(self) -> None:
        self.db.close()

    # -- reading ---------------------------------------------------------------------------------------------

    def by_hook_id(self, hook_id: str) -> Hook | None:
        return self._hooks.get(hook_id)

    def get(self, tenant_id: str, endpoint_id: str) -> Hook | None:
        return next((h for h in self._hooks.values() if h.id == endpoint_id and h.tenant_id == tenant_id), None)

    def list(self, tenant_id: str | None = None, plugin_id: str | None = None) -> list[Hook]:
        hooks = [
            hook
            for hook in self._hooks.values()
            if (tenant_id is None or hook.tenant_id == tenant_id) and (plugin_id is None or hook.plugin_id == plugin_id)
        ]
        return sorted(hooks, key=lambda hook: (hook.created_at, hook.hook_id))

    # -- writing ---------------------------------------------------------------------------------------------

    def create(
        self,
        tenant_id: str,
        plugin_id: str,
        user_id: str,
        name: str,
        settings: Mapping[str, Any],
        secret_names: Iterable[str] = (),
    ) -> Hook:
        hook_id = "".join(secrets.choice(HOOK_ALPHABET) for _ in range(16))
        while hook_id in self._hooks:
            hook_id = "".join(secrets.choice(HOOK_ALPHABET) for _ in range(16))
        hook = Hook(
            id=str(uuid.uuid4()),
            hook_id=hook_id,
            tenant_id=tenant_id,
            plugin_id=plugin_id,
            user_id=user_id,
            name=name,
            enabled=True,
            settings=dict(settings),
            secret_names=sorted(set(secret_names)),
        )
        self._save(hook)
        self._hooks[hook_id] = hook
        return hook

    def add_from_config(
        self, tenant_id: str, plugin_id: str, name: str, settings: Mapping[str, Any], hook_id: str | None, enabled: bool
    ) -> Hook:
        """A hook of the config file: kept in memory only, rebuilt with the same ids at the next start."""
        hook_id = hook_id or config_hook_id(tenant_id, plugin_id, name)
        existing = self._hooks.get(hook_id)
        if existing is not None and not existing.from_config:
            raise ValueError(f"hook id {hook_id!r} is already used by a hook made through the API")
        hook = Hook(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"dify-mock:{tenant_id}:{hook_id}")),
            hook_id=hook_id,
            tenant_id=tenant_id,
            plugin_id=plugin_id,
            user_id="",
            name=name,
            enabled=enabled,
            settings=dict(settings),
            from_config=True,
        )
        self._hooks[hook_id] = hook
        return hook

    def update(self, hook: Hook, name: str, settings: Mapping[str, Any], secret_names: Iterable[str]) -> Hook:
        updated = replace(
            hook, name=name, settings=dict(settings), secret_names=sorted(set(secret_names)), updated_at=_now()
        )
        self._save(updated)
        self._hooks[hook.hook_id] = updated
        return updated

    def set_enabled(self, hook: Hook, enabled: bool) -> Hook:
        updated = replace(hook, enabled=enabled, updated_at=_now()) if hook.enabled != enabled else hook
        self._save(updated)
        self._hooks[hook.hook_id] = updated
        return updated

    def remove(self, hook: Hook) -> None:
        if not hook.from_config:
            with self._writing():
                self.db.execute("DELETE FROM endpoint_hooks WHERE id = ?", (hook.id,))
        self._hooks.pop(hook.hook_id, None)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        try:
            with self.db:
                yield
        except (OSError, sqlite3.Error) as error:
            raise HookWriteError(f"{write_failure(error, self.folder)}; the endpoint was not changed") from error

    def _save(self, hook: Hook) -> None:
        if hook.from_config:
            return
        kept = {name: value for name, value in hook.settings.items() if name not in hook.secret_names}
        with self._writing():
            self.db.execute(
                "INSERT OR REPLACE INTO endpoint_hooks (id, hook_id, tenant_id, plugin_id, user_id, name, enabled, "
                "settings, secret_names, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    hook.id,
                    hook.hook_id,
                    hook.tenant_id,
                    hook.plugin_id,
                    hook.user_id,
                    hook.name,
                    int(hook.enabled),
                    json.dumps(kept),
                    json.dumps(hook.secret_names),
                    hook.created_at,
                    hook.updated_at,
                ),
            )
