"""Everything the mock did: each dispatched invocation and each reverse call, newest last."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from time import perf_counter
from time import time as now
from typing import Any

from dify_mock.redaction import redact

MAX_CHUNKS_KEPT = 2000


@dataclass
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
    error: str | None = None
    duration_ms: float | None = None
    done: bool = False
    _started: float = field(default_factory=perf_counter, repr=False)

    def add_chunk(self, chunk: Any) -> None:
        if len(self.response) < MAX_CHUNKS_KEPT:
            self.response.append(redact(chunk))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["_started"]
        return data


JournalListener = Callable[[str, JournalEntry], None]


class Journal:
    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: deque[JournalEntry] = deque(maxlen=max_entries)
        self._ids = itertools.count(1)
        self.listeners: list[JournalListener] = []

    def start(
        self, kind: str, type: str, tenant_id: str, plugin_id: str, session_id: str, request: Any
    ) -> JournalEntry:
        entry = JournalEntry(next(self._ids), kind, type, tenant_id, plugin_id, session_id, redact(request))
        self._entries.append(entry)
        self._notify("started", entry)
        return entry

    def finish(self, entry: JournalEntry, answered_by: str | None = None, error: str | None = None) -> None:
        entry.duration_ms = round((perf_counter() - entry._started) * 1000, 3)
        if answered_by is not None:
            entry.answered_by = answered_by
        entry.error = error
        entry.done = True
        self._notify("finished", entry)

    def entries(
        self, kind: str | None = None, type: str | None = None, plugin_id: str | None = None
    ) -> list[JournalEntry]:
        return [
            entry
            for entry in self._entries
            if (kind is None or entry.kind == kind)
            and (type is None or entry.type == type)
            and (plugin_id is None or entry.plugin_id == plugin_id)
        ]

    def clear(self) -> None:
        self._entries.clear()

    def _notify(self, event: str, entry: JournalEntry) -> None:
        for listener in self.listeners:
            listener(event, entry)
