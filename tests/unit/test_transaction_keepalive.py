"""Keep-alive lines on a long serverless reverse call, and the answer's end closing what produced it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from dify_mock.http.transaction import KEEPALIVE, with_keepalive


def test_blank_lines_fill_the_silence_of_a_slow_answer():
    async def slow() -> AsyncIterator[bytes]:
        yield b"first\n\n"
        await asyncio.sleep(0.5)
        yield b"second\n\n"

    async def collect() -> list[bytes]:
        return [item async for item in with_keepalive(slow(), 0.02)]

    items = asyncio.run(collect())
    assert items[0] == b"first\n\n" and items[-1] == b"second\n\n"
    assert len(items) > 2 and set(items[1:-1]) == {KEEPALIVE}


def test_a_reader_that_stops_early_closes_the_answer():
    closed = []

    async def endless() -> AsyncIterator[bytes]:
        try:
            while True:
                yield b"chunk\n\n"
                await asyncio.sleep(0.01)
        finally:
            closed.append(True)

    async def read_two() -> None:
        lines = with_keepalive(endless(), 5.0)
        assert [await anext(lines), await anext(lines)] == [b"chunk\n\n", b"chunk\n\n"]
        await lines.aclose()  # type: ignore[attr-defined]

    asyncio.run(read_two())
    assert closed == [True]
