"""Finished journal entries in SQLite, written and read by one thread of its own.

Writes are queued and committed in batches BATCH_SECONDS after an entry finishes (WAL, synchronous=NORMAL) while
the writer keeps up: a mock that is killed then loses the entries of that last fraction of a second. Under a flood
faster than SQLite commits, the entries still queued are lost too: the window is the backlog's write time
(`python -m bench.journal` measures it). A commit survives the process but not necessarily a power loss. Reads go through the same queue, so they see every entry finished before them.
At most `max_entries` are kept, a fair share for each plugin: the newest of each. When a batch cannot be written (the
data folder is full), its entries are dropped: one warning says why when it starts, one says how many were lost when writing works again.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from dify_mock.protocol.messages import dump_bytes
from dify_mock.store.disk import full_because, write_failure

log = logging.getLogger("dify_mock.store.journal")

BATCH_SECONDS = 0.05
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are not reused after a clear
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    plugin_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_by_type ON entries (type, id);
CREATE INDEX IF NOT EXISTS entries_by_plugin ON entries (plugin_id, id);
CREATE INDEX IF NOT EXISTS entries_by_session ON entries (session_id, id);
CREATE INDEX IF NOT EXISTS entries_by_time ON entries (time);
"""
FILTER_COLUMNS = ("kind", "type", "tenant_id", "plugin_id", "session_id")

T = TypeVar("T")
Row = tuple[int, str]  # (id, the entry as JSON text)
SummaryRow = tuple[str, str, str, bool, int]  # (kind, type, answered_by, failed, how many entries)


def dump_json(value: Any) -> str:
    """Compact JSON text; what JSON cannot hold is written as its str()."""
    return dump_bytes(value, default=str).decode()


@dataclass(frozen=True)
class JournalQuery:
    """Which entries: every field set must match. `since`/`until` bound the start time (epoch seconds,
    until excluded). With `limit`, the first `limit` entries after `after_id`, or without `after_id` the newest."""

    kind: str | None = None
    type: str | None = None
    tenant_id: str | None = None
    plugin_id: str | None = None
    session_id: str | None = None
    since: float | None = None
    until: float | None = None
    after_id: int | None = None
    limit: int | None = None

    def matches(self, entry: Mapping[str, Any]) -> bool:
        for column in FILTER_COLUMNS:
            wanted = getattr(self, column)
            if wanted is not None and entry.get(column) != wanted:
                return False
        started = float(entry.get("time") or 0)
        if self.since is not None and started < self.since:
            return False
        if self.until is not None and started >= self.until:
            return False
        return self.after_id is None or int(entry.get("id") or 0) > self.after_id

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for column in FILTER_COLUMNS:
            wanted = getattr(self, column)
            if wanted is not None:
                clauses.append(f"{column} = ?")
                params.append(wanted)
        for clause, value in (("time >= ?", self.since), ("time < ?", self.until), ("id > ?", self.after_id)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def cut(self, rows: Sequence[Row]) -> Sequence[Row]:
        """Applies `limit` to rows sorted by id."""
        if self.limit is None:
            return rows
        if self.after_id is not None:
            return rows[: self.limit]
        return rows[-self.limit :] if self.limit > 0 else []


def fair_share(counts: Sequence[int], budget: int) -> int:
    """The most entries each plugin may keep so that all of them fit in `budget`: a plugin with fewer keeps all of
    its own, and what it leaves is shared among the others (max-min fairness)."""
    left, sharing = budget, len(counts)
    for count in sorted(counts):
        if count * sharing > left:
            return left // sharing
        left -= count
        sharing -= 1
    return max(counts, default=budget)


class _Stop:
    pass


_STOP = _Stop()
_Command = tuple[Callable[[], Any], "concurrent.futures.Future[Any]"]


class JournalStore:
    def __init__(self, path: Path | str, max_entries: int, batch_seconds: float = BATCH_SECONDS) -> None:
        self.path = str(path)
        self.max_entries = max(1, max_entries)
        self._batch_seconds = batch_seconds
        self._db = self._open()
        last = self._db.execute(
            "SELECT max(coalesce((SELECT max(id) FROM entries), 0),"
            " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'entries'), 0))"
        ).fetchone()[0]
        self.next_id = int(last) + 1
        self._rows = int(self._db.execute("SELECT count(*) FROM entries").fetchone()[0])
        self._trim()
        self._queue: queue.SimpleQueue[dict[str, Any] | _Command | _Stop] = queue.SimpleQueue()
        self._urgent = threading.Event()
        self._closed = False
        self.dropped = 0  # entries lost since the last batch that could be written
        self._thread = threading.Thread(target=self._run, name="dify-mock-journal", daemon=True)
        self._thread.start()

    # -- called from the event loop: each returns at once

    def write(self, entry: dict[str, Any]) -> None:
        """Queues a finished entry (its JSON form); it is committed within BATCH_SECONDS."""
        if not self._closed:
            self._queue.put(entry)

    def select(self, query: JournalQuery) -> concurrent.futures.Future[list[Row]]:
        return self._submit(lambda: self._select(query), [])

    def get(self, entry_id: int) -> concurrent.futures.Future[dict[str, Any] | None]:
        return self._submit(lambda: self._get(entry_id), None)

    def summarize(self, query: JournalQuery) -> concurrent.futures.Future[list[SummaryRow]]:
        return self._submit(lambda: self._summarize(query), [])

    def clear(self) -> concurrent.futures.Future[None]:
        return self._submit(self._clear, None)

    def count(self) -> int:
        return self._rows

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._urgent.set()
        self._thread.join(timeout=10)

    def _submit(self, command: Callable[[], T], when_closed: T) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        if self._closed:
            future.set_result(when_closed)
            return future
        self._queue.put((command, future))
        self._urgent.set()
        return future

    # -- the store's thread

    def _open(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            return self._prepare(sqlite3.connect(self.path, check_same_thread=False, isolation_level=None))
        except sqlite3.DatabaseError as error:
            if self.path == ":memory:" or full_because(error, Path(self.path).parent) is not None:
                raise  # a full disk is not a broken journal: nothing is moved aside, start-up says what is full
            aside = f"{self.path}.unreadable-{int(time.time())}"
            log.warning("journal %s is unreadable (%s); moved it to %s and started a new one", self.path, error, aside)
            for suffix in ("", "-wal", "-shm"):
                if Path(self.path + suffix).exists():
                    Path(self.path + suffix).rename(aside + suffix)
            return self._prepare(sqlite3.connect(self.path, check_same_thread=False, isolation_level=None))

    @staticmethod
    def _prepare(db: sqlite3.Connection) -> sqlite3.Connection:
        db.execute("PRAGMA page_size=16384")  # new files: an entry of a few kB fits one page, no overflow pages
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            db.execute("DROP TABLE IF EXISTS entries")
        db.executescript(SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return db

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if isinstance(first, dict):
                    self._urgent.wait(self._batch_seconds)  # gather a batch, unless a reader is waiting
                items = [first]
                while True:
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                self._urgent.clear()
                try:
                    if not self._handle(items):
                        return
                except Exception:  # the thread must outlive any one batch: readers wait on it
                    log.exception("the journal could not handle %d queued items", len(items))
        finally:
            self._db.close()

    def _handle(self, items: list[dict[str, Any] | _Command | _Stop]) -> bool:
        batch: list[dict[str, Any]] = []
        for item in items:
            if isinstance(item, dict):
                batch.append(item)
                continue
            self._insert(batch)
            batch = []
            if isinstance(item, _Stop):
                return False
            command, future = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(command())
                except Exception as error:
                    future.set_exception(error)
        self._insert(batch)
        return True

    def _insert(self, batch: list[dict[str, Any]]) -> None:
        if not batch:
            return
        rows = [
            (
                entry["id"],
                entry["time"],
                entry["kind"],
                entry["type"],
                entry["tenant_id"],
                entry["plugin_id"],
                entry["session_id"],
                dump_json(entry),
            )
            for entry in batch
        ]
        try:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite rolls back by itself on a full disk
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as error:
            if not self.dropped:
                log.warning(
                    "journal: %s (SQLite: %s); finished entries are dropped until it can write again",
                    write_failure(error, Path(self.path).parent),
                    error,
                )
            self.dropped += len(rows)
            return
        if self.dropped:
            log.warning("journal: writing again; %d entries were dropped while it could not write", self.dropped)
            self.dropped = 0
        self._rows += len(rows)
        if self._rows > self.max_entries + max(100, self.max_entries // 10):
            with contextlib.suppress(sqlite3.Error):  # tried again after the next batch
                self._trim()

    def _trim(self) -> None:
        """Keeps max_entries, a fair share for each plugin: the plugins over their share lose their oldest entries,
        so one plugin's flood cannot push the others' entries out. Run in slack so each write does not pay for it."""
        counts = self._db.execute("SELECT tenant_id, plugin_id, count(*) FROM entries GROUP BY 1, 2").fetchall()
        share = fair_share([int(count) for _, _, count in counts], self.max_entries)
        for tenant_id, plugin_id, count in counts:
            if count > share:
                self._db.execute(
                    "DELETE FROM entries WHERE tenant_id = ? AND plugin_id = ? AND id <= (SELECT id FROM entries"
                    " WHERE tenant_id = ? AND plugin_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (tenant_id, plugin_id, tenant_id, plugin_id, share),
                )
        self._rows = int(self._db.execute("SELECT count(*) FROM entries").fetchone()[0])

    def _select(self, query: JournalQuery) -> list[Row]:
        where, params = query.where()
        sql = f"SELECT id, json FROM entries{where} ORDER BY id"
        if query.limit is not None and query.after_id is None:
            sql = f"SELECT id, json FROM (SELECT id, json FROM entries{where} ORDER BY id DESC LIMIT ?) ORDER BY id"
            params.append(query.limit)
        elif query.limit is not None:
            sql += " LIMIT ?"
            params.append(query.limit)
        return [(int(row[0]), str(row[1])) for row in self._db.execute(sql, params)]

    def _get(self, entry_id: int) -> dict[str, Any] | None:
        row = self._db.execute("SELECT json FROM entries WHERE id = ?", (entry_id,)).fetchone()
        if row is None:
            return None
        found: dict[str, Any] = json.loads(row[0])
        return found

    def _summarize(self, query: JournalQuery) -> list[SummaryRow]:
        """Entries counted by kind, type, who answered and whether they failed; `limit` does not apply."""
        where, params = query.where()
        sql = (
            "SELECT kind, type, coalesce(json_extract(json, '$.answered_by'), ''),"
            f" json_extract(json, '$.error') IS NOT NULL, count(*) FROM entries{where} GROUP BY 1, 2, 3, 4"
        )
        return [(str(k), str(t), str(a), bool(f), int(n)) for k, t, a, f, n in self._db.execute(sql, params)]

    def _clear(self) -> None:
        self._db.execute("DELETE FROM entries")
        self._rows = 0
