"""Latency and faults applied to a chunk stream, with a recording clock instead of real sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from dify_mock.answers.faults import FaultHooks, shape
from dify_mock.answers.render import llm_chunk
from dify_mock.config.faults import REALISTIC_SECONDS_PER_TOKEN, Fault, Latency
from dify_mock.protocol.reverse_call import ReverseError
from pydantic import ValidationError


def text_chunks(*pieces: str) -> list[dict[str, Any]]:
    return [llm_chunk("m", index, piece, [], None, None) for index, piece in enumerate(pieces)]


async def stream(chunks: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    for chunk in chunks:
        yield chunk


class Clock:
    def __init__(self) -> None:
        self.waits: list[float] = []
        self.dropped = 0
        self.abandoned = 0

    async def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))

    def hooks(self) -> FaultHooks:
        def drop() -> None:
            self.dropped += 1

        async def until_abandoned() -> None:
            self.abandoned += 1

        return FaultHooks(drop, until_abandoned)


def run(
    chunks: list[dict[str, Any]], latency: Latency | None, fault: Fault | None, clock: Clock
) -> tuple[list[dict[str, Any]], Exception | None]:
    got: list[dict[str, Any]] = []

    async def main() -> None:
        async for chunk in shape(stream(chunks), latency, fault, clock.hooks(), clock.sleep):
            got.append(chunk)

    try:
        asyncio.run(main())
    except ReverseError as error:
        return got, error
    return got, None


def test_delay_first_chunk_and_per_chunk_add_up():
    clock = Clock()
    got, error = run(text_chunks("a", "b", "c"), Latency(delay=1, first_chunk=0.5, per_chunk=0.1), None, clock)
    assert error is None and len(got) == 3
    assert clock.waits == [1, 0.5, 0.1, 0.1]


def test_tokens_per_second_paces_by_the_text_each_chunk_carries():
    clock = Clock()
    run(text_chunks("abcd", "abcdefgh", ""), Latency(tokens_per_second=10), None, clock)
    assert clock.waits == [0.1, 0.2]  # 1 token, 2 tokens; an empty chunk costs nothing


def test_the_realistic_preset_is_about_19_ms_per_generated_token():
    clock = Clock()
    run(text_chunks("x" * 40), Latency(preset="realistic"), None, clock)
    assert clock.waits == [round(10 * REALISTIC_SECONDS_PER_TOKEN, 6)]


def test_an_error_before_any_chunk_after_some_and_after_all():
    for after, expected in ((0, 0), (2, 2), (9, 3)):
        got, error = run(text_chunks("a", "b", "c"), None, Fault(error="boom", after_chunks=after), Clock())
        assert len(got) == expected and str(error) == "boom"


def test_malformed_tool_arguments_cut_the_json_in_half():
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"city": "Paris"}'}}
    chunk = llm_chunk("m", 0, "", [call], None, "tool_calls")
    got, error = run([chunk], None, Fault(malformed_tool_arguments=True), Clock())
    assert error is None
    assert got[0]["delta"]["message"]["tool_calls"][0]["function"]["arguments"] == '{"city":'
    assert call["function"]["arguments"] == '{"city": "Paris"}'  # the original is untouched


def test_hang_waits_until_the_plugin_gave_up_and_drop_closes_the_connection():
    clock = Clock()
    got, error = run(text_chunks("a", "b"), None, Fault(hang=True, after_chunks=1), clock)
    assert len(got) == 1 and clock.abandoned == 1 and "never answered" in str(error)
    got, error = run(text_chunks("a", "b"), None, Fault(drop_connection=True), clock)
    assert got == [] and clock.dropped == 1 and "dropped the plugin's connection" in str(error)


def test_a_fault_is_exactly_one_kind():
    with pytest.raises(ValidationError, match="exactly one of"):
        Fault(error="x", hang=True)
    with pytest.raises(ValidationError, match="exactly one of"):
        Fault(after_chunks=2)
