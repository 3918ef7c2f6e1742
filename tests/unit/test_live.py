"""Live subscribers stay bounded: a reader that stops reading is reset, never allowed to grow."""

from __future__ import annotations

import asyncio

from dify_mock.http.live import MAX_PENDING_BYTES, MAX_PENDING_EVENTS, LiveEvent, Subscriber, preview
from dify_mock.store.journal_sqlite import JournalQuery


def test_a_subscriber_that_falls_behind_is_reset_and_holds_a_bounded_backlog() -> None:
    async def scenario() -> None:
        subscriber = Subscriber(JournalQuery(), chunks=True, full=False)
        for number in range(MAX_PENDING_EVENTS * 5):
            subscriber.push(LiveEvent("chunk", f'{{"n": {number}}}'))
            assert len(subscriber.pending) <= MAX_PENDING_EVENTS
        assert await subscriber.next() is None  # told to start over from a snapshot
        subscriber.push(LiveEvent("chunk", "{}"))
        assert await subscriber.next() == [LiveEvent("chunk", "{}")]

        big = LiveEvent("finished", "x" * (MAX_PENDING_BYTES // 3))
        for _ in range(10):
            subscriber.push(big)
            assert subscriber.pending_bytes <= MAX_PENDING_BYTES
        assert await subscriber.next() is None

    asyncio.run(scenario())


def test_a_waiting_subscriber_wakes_on_the_next_event() -> None:
    async def scenario() -> None:
        subscriber = Subscriber(JournalQuery(), chunks=True, full=False)
        waiting = asyncio.create_task(subscriber.next())
        await asyncio.sleep(0)
        assert not waiting.done()
        subscriber.push(LiveEvent("started", "{}"))
        assert await asyncio.wait_for(waiting, 5) == [LiveEvent("started", "{}")]

    asyncio.run(scenario())


def test_preview_cuts_long_strings_lists_and_deep_nesting() -> None:
    cut = preview({"result": "ab" * 5000, "items": list(range(500)), "deep": [[[[[[[[[[[[[[1]]]]]]]]]]]]]]})
    assert cut["result"].endswith("(10000 characters)") and len(cut["result"]) < 500
    assert cut["items"][-1] == "… 400 more" and len(cut["items"]) == 101
    assert "…" in str(cut["deep"])
    assert preview({"short": "fine", "n": 1}) == {"short": "fine", "n": 1}
