"""Live events for the dashboard and `dify-mock journal --follow`: plugins coming and going, journal entries as
they start, stream and finish.

Each subscriber keeps a bounded backlog. One that falls behind (a stalled browser tab) is not allowed to grow: its
backlog is dropped and it is told to start over from a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from dify_mock.plugins.registry import PluginRuntime
from dify_mock.store.journal import JournalEntry
from dify_mock.store.journal_sqlite import JournalQuery, dump_json

if TYPE_CHECKING:
    from dify_mock.host import Host

MAX_PENDING_EVENTS = 2000
MAX_PENDING_BYTES = 8 * 1024 * 1024  # the events themselves are shared by every subscriber: this is mostly references
SNAPSHOT_MAX_BYTES = 2 * 1024 * 1024  # the history a stream opens with is its own copy: the newest entries within this
SNAPSHOT_PAGE = 50
SNAPSHOTS_AT_ONCE = 4  # histories read together: many streams opening at once take turns, not all the memory
PREVIEW_CHARACTERS = 400
PREVIEW_ITEMS = 100
PREVIEW_DEPTH = 12


@dataclass(frozen=True)
class LiveEvent:
    name: str  # plugins, plugin, entry, started, chunk, finished, ready, reset
    data: str  # JSON text


class Subscriber:
    """One open event stream: what it wants, and what it has not read yet."""

    def __init__(self, query: JournalQuery, chunks: bool, full: bool) -> None:
        self.query = query
        self.chunks = chunks
        self.full = full
        self.pending: deque[LiveEvent] = deque()
        self.pending_bytes = 0
        self.lagged = False
        self.stopped = False
        self._wake = asyncio.Event()

    def push(self, event: LiveEvent) -> None:
        if self.lagged:
            return
        size = len(event.data)
        if len(self.pending) >= MAX_PENDING_EVENTS or self.pending_bytes + size > MAX_PENDING_BYTES:
            self.pending.clear()
            self.pending_bytes = 0
            self.lagged = True
        else:
            self.pending.append(event)
            self.pending_bytes += size
        self._wake.set()

    def stop(self) -> None:
        """Ends the stream: next() returns at once from now on (the server is shutting down)."""
        self.stopped = True
        self._wake.set()

    async def next(self) -> list[LiveEvent] | None:
        """Every event pushed since the last call, waiting for one; None when the subscriber fell behind.
        After stop(), returns whatever is left (possibly nothing) without waiting."""
        while not self.pending and not self.lagged and not self.stopped:
            self._wake.clear()
            await self._wake.wait()
        if self.lagged:
            self.lagged = False
            return None
        events = list(self.pending)
        self.pending.clear()
        self.pending_bytes = 0
        return events


def preview(value: Any, depth: int = 0) -> Any:
    """A copy small enough to show: long strings (hex audio...) and long lists are cut, with what was cut said."""
    if isinstance(value, str):
        if len(value) <= PREVIEW_CHARACTERS:
            return value
        return f"{value[:PREVIEW_CHARACTERS]}… ({len(value)} characters)"
    if depth >= PREVIEW_DEPTH and isinstance(value, list | dict):
        return "…"
    if isinstance(value, list):
        items = [preview(item, depth + 1) for item in value[:PREVIEW_ITEMS]]
        if len(value) > PREVIEW_ITEMS:
            items.append(f"… {len(value) - PREVIEW_ITEMS} more")
        return items
    if isinstance(value, dict):
        kept = {key: preview(item, depth + 1) for key, item in itertools.islice(value.items(), PREVIEW_ITEMS)}
        if len(value) > PREVIEW_ITEMS:
            kept["…"] = f"{len(value) - PREVIEW_ITEMS} more keys"
        return kept
    return value


def describe_plugin(runtime: PluginRuntime) -> dict[str, Any]:
    return {**runtime.describe(), "sessions": len(runtime.sessions)}


class LiveHub:
    """Turns registry and journal notifications into events for every subscriber that wants them."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.subscribers: set[Subscriber] = set()
        self.reading_history = asyncio.Semaphore(SNAPSHOTS_AT_ONCE)
        host.journal.listeners.append(self._on_entry)
        host.registry.listeners.append(self._on_plugin)

    def close(self) -> None:
        if self._on_entry in self.host.journal.listeners:
            self.host.journal.listeners.remove(self._on_entry)
        if self._on_plugin in self.host.registry.listeners:
            self.host.registry.listeners.remove(self._on_plugin)
        self.subscribers.clear()

    def subscribe(self, query: JournalQuery, chunks: bool = True, full: bool = False) -> Subscriber:
        subscriber = Subscriber(query, chunks, full)
        self.subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    async def snapshot(self, subscriber: Subscriber, history: int) -> AsyncIterator[LiveEvent]:
        """The connected plugins, then up to `history` of the newest matching journal entries, then `ready`.

        The plugins go out before the journal is read: a page learns who is connected at once, even while the
        journal's thread is busy writing."""
        tenant = subscriber.query.tenant_id
        plugins = [describe_plugin(runtime) for runtime in self.host.registry.runtimes(tenant)]
        yield LiveEvent("plugins", dump_json({"plugins": plugins}))
        if history > 0:
            async with self.reading_history:
                for text in await self._history(subscriber, history):
                    yield LiveEvent("entry", text)
        yield LiveEvent("ready", "{}")

    async def _history(self, subscriber: Subscriber, history: int) -> list[str]:
        """The newest `history` entries, oldest first, within SNAPSHOT_MAX_BYTES: read a page at a time, newest page
        first, so that a stream asking for 10,000 whole entries never has them all in memory at once. (A page
        ends at a start time: entries started in the same microsecond as a page's oldest may be left out.)"""
        pages: list[list[str]] = []
        count = size = 0
        until = subscriber.query.until
        while count < history:
            wanted = min(SNAPSHOT_PAGE, history - count)
            query = replace(subscriber.query, after_id=None, until=until, limit=wanted)
            texts = await self.host.journal.query(query)
            if not texts:
                break
            until = json.loads(texts[0])["time"]
            page = texts if subscriber.full else [dump_json(preview_entry(text)) for text in texts]
            del texts
            kept = _newest_within(page, SNAPSHOT_MAX_BYTES - size)
            pages.append(kept)
            count += len(kept)
            size += sum(map(len, kept))
            if len(kept) < len(page) or len(page) < wanted:
                break
        return [text for page in reversed(pages) for text in page]

    def _on_plugin(self, event: str, runtime: PluginRuntime) -> None:
        if not self.subscribers:
            return
        data = dump_json({"event": event, "plugin": describe_plugin(runtime)})
        for subscriber in self.subscribers:
            if subscriber.query.tenant_id in (None, runtime.tenant_id):
                subscriber.push(LiveEvent("plugin", data))

    def _on_entry(self, event: str, entry: JournalEntry) -> None:
        if not self.subscribers:
            return
        head = {
            "id": entry.id,
            "time": entry.time,
            "kind": entry.kind,
            "type": entry.type,
            "tenant_id": entry.tenant_id,
            "plugin_id": entry.plugin_id,
            "session_id": entry.session_id,
        }
        made: dict[bool, str] = {}
        for subscriber in self.subscribers:
            if (event == "chunk" and not subscriber.chunks) or not subscriber.query.matches(head):
                continue
            data = made.get(subscriber.full)
            if data is None:
                data = made[subscriber.full] = dump_json(_payload(event, entry, subscriber.full))
            subscriber.push(LiveEvent(event, data))


def _newest_within(texts: list[str], max_bytes: int) -> list[str]:
    """The newest of `texts` (oldest first) that fit in `max_bytes` together."""
    kept = 0
    for index in range(len(texts) - 1, -1, -1):
        kept += len(texts[index])
        if kept > max_bytes:
            return texts[index + 1 :]
    return texts


def _payload(event: str, entry: JournalEntry, full: bool) -> Any:
    if event == "chunk":
        chunk = entry.response[-1]
        return {"id": entry.id, "index": len(entry.response) - 1, "chunk": chunk if full else preview(chunk)}
    data = entry.to_json()
    return data if full else preview(data)


def preview_entry(text: str) -> Any:
    return preview(json.loads(text))
