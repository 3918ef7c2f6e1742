"""The key-value store behind `session.storage`: one per tenant and plugin, in SQLite under the data folder."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dify_mock.protocol.reverse_call import ReverseError
from dify_mock.store.disk import write_failure

SCHEMA = """
CREATE TABLE IF NOT EXISTS plugin_storage (
    tenant_id TEXT NOT NULL,
    plugin_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (tenant_id, plugin_id, key)
)
"""


class PluginStorage:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(SCHEMA)

    def get(self, tenant_id: str, plugin_id: str, key: str) -> bytes | None:
        row = self.db.execute(
            "SELECT value FROM plugin_storage WHERE tenant_id=? AND plugin_id=? AND key=?", (tenant_id, plugin_id, key)
        ).fetchone()
        return bytes(row[0]) if row else None

    def used(self, tenant_id: str, plugin_id: str, except_key: str | None = None) -> int:
        row = self.db.execute(
            "SELECT COALESCE(SUM(LENGTH(value)), 0) FROM plugin_storage WHERE tenant_id=? AND plugin_id=? AND key IS NOT ?",
            (tenant_id, plugin_id, except_key),
        ).fetchone()
        return int(row[0])

    def set(self, tenant_id: str, plugin_id: str, key: str, value: bytes, quota: int | None) -> None:
        """Stores the value, or raises ReverseError; a failed write (a full disk) leaves the old value."""
        try:
            self._set(tenant_id, plugin_id, key, value, quota)
        except sqlite3.Error as error:
            raise ReverseError(f"save data failed: {self._write_failure(error)}; nothing was stored") from None

    def _set(self, tenant_id: str, plugin_id: str, key: str, value: bytes, quota: int | None) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if quota is not None:
                used = self.used(tenant_id, plugin_id, except_key=key)
                if used + len(value) > quota:
                    raise ReverseError(
                        "save data failed: allocated size is greater than max storage size; "  # the daemon's words
                        f"storage quota exceeded: {used} bytes used + {len(value)} new is over the manifest's "
                        f"storage.size of {quota} bytes; nothing was stored"
                    )
            self.db.execute(
                "INSERT OR REPLACE INTO plugin_storage (tenant_id, plugin_id, key, value) VALUES (?, ?, ?, ?)",
                (tenant_id, plugin_id, key, value),
            )

    def delete(self, tenant_id: str, plugin_id: str, key: str) -> int:
        try:
            with self.db:
                cursor = self.db.execute(
                    "DELETE FROM plugin_storage WHERE tenant_id=? AND plugin_id=? AND key=?",
                    (tenant_id, plugin_id, key),
                )
        except sqlite3.Error as error:
            raise ReverseError(f"delete data failed: {self._write_failure(error)}; nothing was deleted") from None
        return cursor.rowcount

    def _write_failure(self, error: sqlite3.Error) -> str:
        return f"{write_failure(error, self.path.parent)} (SQLite: {error})"

    def close(self) -> None:
        self.db.close()
