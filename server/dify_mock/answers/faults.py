"""Latency and faults: pace any answer's chunk stream in time, or break it on purpose.

The same two settings serve a fixture rule (`latency:` and `fault:` beside its reply) and the config file
(`latency:` and `faults:` per model type); they shape whatever the answer chain produced, whichever link
answered.
"""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from dify_mock.config.faults import Fault, Latency
from dify_mock.protocol.reverse_call import ReverseError

Chunk = dict[str, Any]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class FaultHooks:
    """What a fault needs from the host: close the plugin's connection, wait until the plugin gave up."""

    drop_connection: Callable[[], None]
    until_abandoned: Callable[[], Awaitable[None]]


def count_tokens(text: str) -> int:
    """A rough token count: four characters a token, as the built-in usage figures count them."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def chunk_tokens(chunk: Chunk) -> int:
    """The tokens an LLM chunk carries (its text and tool-call arguments); 0 for other answers."""
    delta = chunk.get("delta")
    if not isinstance(delta, dict):
        return 0
    message = delta.get("message") or {}
    content = message.get("content")
    tokens = count_tokens(content) if isinstance(content, str) else 0
    for call in message.get("tool_calls") or []:
        arguments = (call.get("function") or {}).get("arguments") if isinstance(call, dict) else None
        if isinstance(arguments, str):
            tokens += count_tokens(arguments)
    return tokens


def break_tool_arguments(chunk: Chunk) -> Chunk:
    """The chunk with every tool call's arguments cut in half, so they are no longer valid JSON."""
    calls = ((chunk.get("delta") or {}).get("message") or {}).get("tool_calls")
    if not calls:
        return chunk
    broken = copy.deepcopy(chunk)
    for call in broken["delta"]["message"]["tool_calls"]:
        function = call.get("function") or {}
        arguments = str(function.get("arguments") or "")
        function["arguments"] = arguments[: max(1, len(arguments) // 2)] if len(arguments) > 1 else "{"
    return broken


async def shape(
    chunks: AsyncIterator[Chunk],
    latency: Latency | None,
    fault: Fault | None,
    hooks: FaultHooks,
    sleep: Sleep = asyncio.sleep,
) -> AsyncIterator[Chunk]:
    """The chunks, paced by `latency` and broken by `fault`; a fault never skipped because chunks ran out."""
    if latency is not None and latency.delay:
        await sleep(latency.delay)
    per_token = latency.seconds_per_token() if latency is not None else 0.0
    tripping = fault is not None and fault.kind != "malformed_tool_arguments"
    sent = 0
    if tripping and fault is not None and fault.after_chunks == 0:
        await _trip(fault, hooks)
    async for chunk in chunks:
        out = break_tool_arguments(chunk) if fault is not None and fault.malformed_tool_arguments else chunk
        if latency is not None:
            wait = (latency.first_chunk if sent == 0 else latency.per_chunk) or 0.0
            wait += per_token * chunk_tokens(out)
            if wait > 0:
                await sleep(wait)
        yield out
        sent += 1
        if tripping and fault is not None and fault.after_chunks == sent:
            await _trip(fault, hooks)
    if tripping and fault is not None and fault.after_chunks > sent:
        await _trip(fault, hooks)


async def _trip(fault: Fault, hooks: FaultHooks) -> None:
    if fault.kind == "error":
        raise ReverseError(str(fault.error))
    if fault.kind == "hang":
        await hooks.until_abandoned()
        raise ReverseError("fault: never answered (hang); the plugin stopped waiting")
    hooks.drop_connection()
    raise ReverseError("fault: dropped the plugin's connection")
