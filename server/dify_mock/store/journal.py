"""Everything the mock did: each dispatched invocation and each reverse call, newest last.

Entries being answered live in memory; a finished entry goes to the journal store (SQLite under the data folder),
which writes it from a thread of its own, so finishing an entry costs the event loop one queue put.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter
from time import time as now
from typing import Any

from dify_mock.store.journal_sqlite import JournalQuery, JournalStore, dump_json
from dify_mock.store.redaction import KNOWN, redact

log = logging.getLogger("dify_mock.store.journal")

MAX_CHUNKS_KEPT = 2000
MAX_STRING_KEPT = 1024 * 1024  # characters of one string in an entry; a longer one keeps its start and its length
DEFAULT_MAX_ENTRIES = 10_000
RULE_PREFIX = "rule:"  # `answered_by` of a call a fixture rule answered: rule:<its name>


@dataclass(eq=False)
class JournalEntry:
    id: int
    kind: str  # "dispatch" (host -> plugin) or "reverse" (plugin -> host)
    type: str
    tenant_id: str
    plugin_id: str
    session_id: str
    request: Any
    time: float = field(default_factory=now)
    response: list[Any] = field(default_factory=list)
    answered_by: str | None = None
    rule: str | None = None  # the fixture rule that answered: file:line
    error: str | None = None
    duration_ms: float | None = None
    done: bool = False
    _started: float = field(default_factory=perf_counter, repr=False)
    _on_chunk: Callable[[JournalEntry], None] | None = field(default=None, repr=False)
    _dropped: bool = field(default=False, repr=False)

    def add_chunk(self, chunk: Any, as_is: bool = False) -> None:
        """Keeps a redacted copy of `chunk`; with `as_is`, the chunk itself, which its maker knows cannot hold a
        credential's name and will not change, as long as no secret value is known that it could repeat."""
        if len(self.response) < MAX_CHUNKS_KEPT:
            self.response.append(chunk if as_is and KNOWN.empty else clipped(redact(chunk)))
            if self._on_chunk is not None:
                self._on_chunk(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time,
            "kind": self.kind,
            "type": self.type,
            "tenant_id": self.tenant_id,
            "plugin_id": self.plugin_id,
            "session_id": self.session_id,
            "request": self.request,
            "response": self.response,
            "answered_by": self.answered_by,
            "rule": self.rule,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "done": self.done,
        }


def clipped(value: Any) -> Any:
    """`value` with every string longer than MAX_STRING_KEPT cut to its start and a note of what was left out:
    an entry stays small enough to show, to hold in memory and to write, whatever a plugin or a caller sent."""
    if type(value) is str:
        if len(value) <= MAX_STRING_KEPT:
            return value
        return f"{value[:MAX_STRING_KEPT]}… [{len(value) - MAX_STRING_KEPT} more characters, not kept in the journal]"
    if type(value) is dict:
        return {key: clipped(item) for key, item in value.items()}
    if type(value) is list:
        return [clipped(item) for item in value]
    return value


JournalListener = Callable[[str, JournalEntry], None]  # event: "started", "chunk" or "finished"


class Journal:
    """Open entries in memory, finished ones in the store; listeners hear every start, chunk and finish."""

    def __init__(self, store: JournalStore | None = None) -> None:
        self.store = store if store is not None else JournalStore(":memory:", DEFAULT_MAX_ENTRIES)
        self._next_id = self.store.next_id
        self._open: dict[int, JournalEntry] = {}
        self.listeners: list[JournalListener] = []

    @property
    def last_id(self) -> int:
        """The id of the newest entry, open or finished (0 before the first)."""
        return self._next_id - 1

    def start(
        self, kind: str, type: str, tenant_id: str, plugin_id: str, session_id: str, request: Any
    ) -> JournalEntry:
        entry = JournalEntry(self._next_id, kind, type, tenant_id, plugin_id, session_id, clipped(redact(request)))
        self._next_id += 1
        entry._on_chunk = self._chunk_added
        self._open[entry.id] = entry
        self._notify("started", entry)
        return entry

    def finish(
        self,
        entry: JournalEntry,
        answered_by: str | None = None,
        error: str | None = None,
        ended_at: float | None = None,
        rule: str | None = None,
    ) -> None:
        """`ended_at` (a perf_counter reading) is when the answer was complete, if earlier than now."""
        entry.duration_ms = round(((ended_at or perf_counter()) - entry._started) * 1000, 3)
        if answered_by is not None:
            entry.answered_by = answered_by
        if rule is not None:
            entry.rule = rule
        entry.error = error
        entry.done = True
        entry._on_chunk = None
        self._open.pop(entry.id, None)
        if not entry._dropped:
            self.store.write(entry.to_json())
        self._notify("finished", entry)

    def open_entries(self, query: JournalQuery | None = None) -> list[JournalEntry]:
        return [entry for entry in self._open.values() if query is None or query.matches(entry.to_json())]

    async def query(self, query: JournalQuery) -> list[str]:
        """The JSON text of every matching entry, finished or not, oldest first (see JournalQuery for `limit`)."""
        stored = await asyncio.wrap_future(self.store.select(query))
        live = [(entry.id, dump_json(entry.to_json())) for entry in self.open_entries(query)]
        if not live:
            return [text for _, text in stored]
        merged = sorted([*stored, *live])
        return [text for _, text in query.cut(merged)]

    async def summary(self, query: JournalQuery) -> dict[str, Any]:
        """How many entries match, per kind and type, how many failed or are still running, and, for reverse
        calls, who answered them: each fixture rule by name, replay, a backend, builtin."""
        rows = await asyncio.wrap_future(self.store.summarize(query))
        summary: dict[str, Any] = {"entries": 0, "failed": 0, "running": 0, "kinds": {}, "answered_by": {}, "rules": {}}

        def count(kind: str, invoke_type: str, answered_by: str, failed: bool, entries: int) -> None:
            summary["entries"] += entries
            summary["failed"] += entries if failed else 0
            types = summary["kinds"].setdefault(kind, {})
            types[invoke_type] = types.get(invoke_type, 0) + entries
            if kind != "reverse":
                return
            summary["answered_by"][answered_by] = summary["answered_by"].get(answered_by, 0) + entries
            if answered_by.startswith(RULE_PREFIX):
                rule = answered_by.removeprefix(RULE_PREFIX)
                summary["rules"][rule] = summary["rules"].get(rule, 0) + entries

        for row in rows:
            count(*row)
        for entry in self.open_entries(query):
            summary["running"] += 1
            count(entry.kind, entry.type, entry.answered_by or "", False, 1)
        return summary

    async def get(self, entry_id: int) -> dict[str, Any] | None:
        entry = self._open.get(entry_id)
        if entry is not None:
            return entry.to_json()
        found: dict[str, Any] | None = await asyncio.wrap_future(self.store.get(entry_id))
        return found

    async def clear(self) -> None:
        """Forgets every entry, on disk and in memory; calls still running are not written when they finish."""
        for entry in self._open.values():
            entry._dropped = True
        self._open.clear()
        await asyncio.wrap_future(self.store.clear())

    def close(self) -> None:
        """Writes what is still queued and stops the store's thread."""
        self.store.close()

    def _chunk_added(self, entry: JournalEntry) -> None:
        self._notify("chunk", entry)

    def _notify(self, event: str, entry: JournalEntry) -> None:
        for listener in self.listeners:
            try:
                listener(event, entry)
            except Exception:
                log.exception("journal listener failed")
