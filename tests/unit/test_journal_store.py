"""The journal store on its own: batching thread, bounds, ids across reopenings, queries, damaged files."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from dify_mock.store.journal import Journal
from dify_mock.store.journal_sqlite import JournalQuery, JournalStore


def entry(entry_id: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": entry_id,
        "time": 1000.0 + entry_id,
        "kind": "reverse",
        "type": "llm",
        "tenant_id": "default",
        "plugin_id": "me/plugin",
        "session_id": f"s{entry_id % 2}",
        "request": {"n": entry_id},
        "response": [],
        "answered_by": "builtin",
        "error": None,
        "duration_ms": 1.0,
        "done": True,
        **fields,
    }


def ids(store: JournalStore, query: JournalQuery) -> list[int]:
    return [row_id for row_id, _ in store.select(query).result(timeout=60)]


def test_reads_see_every_write_queued_before_them(tmp_path: Path) -> None:
    store = JournalStore(tmp_path / "journal.sqlite3", max_entries=100, batch_seconds=5)
    try:
        for number in range(1, 11):
            store.write(entry(number, type="tts" if number % 5 == 0 else "llm"))
        # A reader does not wait for the batch window: its query is answered right after the pending writes.
        assert ids(store, JournalQuery()) == list(range(1, 11))
        assert ids(store, JournalQuery(type="tts")) == [5, 10]
        assert ids(store, JournalQuery(session_id="s1", limit=2)) == [7, 9]
        assert ids(store, JournalQuery(after_id=3, limit=2)) == [4, 5]
        assert ids(store, JournalQuery(since=1003, until=1005)) == [3, 4]
        assert ids(store, JournalQuery(limit=0)) == []
        assert store.get(4).result(timeout=60)["request"] == {"n": 4}
        assert store.get(99).result(timeout=60) is None
    finally:
        store.close()


def test_the_newest_entries_are_kept_and_ids_go_on_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    store = JournalStore(path, max_entries=5)
    for number in range(1, 301):
        store.write(entry(number))
    kept = ids(store, JournalQuery())
    assert kept[-1] == 300 and len(kept) < 300  # trimmed while running, with some slack
    store.close()
    store.close()  # closing twice is harmless

    reopened = JournalStore(path, max_entries=5)
    try:
        assert ids(reopened, JournalQuery()) == [296, 297, 298, 299, 300]
        assert reopened.next_id == 301
        reopened.clear().result(timeout=60)
        assert ids(reopened, JournalQuery()) == []
    finally:
        reopened.close()
    again = JournalStore(path, max_entries=5)
    assert again.next_id == 301  # ids are never reused, even after a clear: followers tell entries apart by id
    again.close()


def test_a_damaged_file_is_moved_aside_and_a_new_journal_started(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    store = JournalStore(path, max_entries=5)
    try:
        store.write(entry(1))
        assert ids(store, JournalQuery()) == [1]
    finally:
        store.close()
    assert [p.name for p in tmp_path.glob("journal.sqlite3.unreadable-*")]


def test_after_close_reads_answer_empty_and_writes_are_dropped(tmp_path: Path) -> None:
    store = JournalStore(tmp_path / "journal.sqlite3", max_entries=5)
    store.close()
    store.write(entry(1))
    assert store.select(JournalQuery()).result(timeout=60) == []


def test_the_journal_merges_running_entries_and_hides_cleared_ones() -> None:
    async def scenario() -> None:
        journal = Journal()
        try:
            done = journal.start("reverse", "llm", "t", "me/p", "s", {"credentials": {"api_key": "secret"}})
            done.add_chunk({"text": "a"})
            journal.finish(done, answered_by="builtin")
            running = journal.start("dispatch", "invoke_tool", "t", "me/p", "s", {})
            texts = await journal.query(JournalQuery())
            assert [('"done":true' in text) for text in texts] == [True, False]
            assert "secret" not in texts[0]
            assert await journal.query(JournalQuery(limit=1)) == texts[1:]
            await journal.clear()
            journal.finish(running)  # it was cleared while running: not written when it ends
            assert await journal.query(JournalQuery()) == []
        finally:
            journal.close()

    asyncio.run(scenario())


def test_a_new_journal_file_uses_16_kb_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    import sqlite3

    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(old) as db:
        db.execute("PRAGMA page_size=4096")
        db.execute("CREATE TABLE t (x)")
    db.close()
    for path, expected in ((tmp_path / "new.sqlite3", 16384), (old, 4096)):
        store = JournalStore(path, 100)
        store.write(entry(1))
        store.close()
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA page_size").fetchone()[0] == expected
        db.close()
