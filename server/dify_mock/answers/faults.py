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
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dify_mock.reverse.call import ReverseError

Chunk = dict[str, Any]
Sleep = Callable[[float], Awaitable[None]]

# The model invocation types: the ones an answer chain serves and that latency and faults apply to.
MODEL_INVOKE_TYPES = (
    "llm",
    "llm_structured_output",
    "text_embedding",
    "multimodal_embedding",
    "rerank",
    "multimodal_rerank",
    "tts",
    "speech2text",
    "moderation",
    "system_summary",
)

REALISTIC_SECONDS_PER_TOKEN = 0.019
PRESETS: dict[str, float] = {"realistic": REALISTIC_SECONDS_PER_TOKEN}


class Latency(BaseModel):
    """How slowly the answer arrives. Waits add up: delay, then time to first chunk, then pacing."""

    model_config = ConfigDict(extra="forbid")

    preset: Literal["realistic"] | None = Field(
        default=None, description="realistic: about 19 ms per generated token (an LLM at ~50 tokens/s)."
    )
    delay: float | None = Field(default=None, ge=0, description="Seconds to wait before answering at all.")
    first_chunk: float | None = Field(default=None, ge=0, description="Seconds before the first chunk.")
    per_chunk: float | None = Field(default=None, ge=0, description="Seconds between chunks.")
    tokens_per_second: float | None = Field(
        default=None, gt=0, description="Pace each chunk by the tokens it carries (LLM text and tool calls)."
    )

    def seconds_per_token(self) -> float:
        if self.tokens_per_second is not None:
            return 1.0 / self.tokens_per_second
        return PRESETS[self.preset] if self.preset is not None else 0.0


FaultKind = Literal["error", "malformed_tool_arguments", "hang", "drop_connection"]


class Fault(BaseModel):
    """One way to fail: give exactly one of `error`, `malformed_tool_arguments`, `hang`, `drop_connection`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"required": ["error"]},
                {"required": ["malformed_tool_arguments"]},
                {"required": ["hang"]},
                {"required": ["drop_connection"]},
            ]
        },
    )

    error: str | None = Field(default=None, description="Fail the call with this message (after `after_chunks`).")
    malformed_tool_arguments: bool | None = Field(
        default=None, description="LLM tool calls arrive with arguments cut in half: not valid JSON."
    )
    hang: bool | None = Field(
        default=None, description="Stop answering (after `after_chunks`): the plugin's SDK timeout fires."
    )
    drop_connection: bool | None = Field(
        default=None, description="Close the plugin's connection (after `after_chunks`), as a crashing host would."
    )
    after_chunks: int = Field(
        default=0, ge=0, description="How many chunks reach the plugin first (0: fail before any)."
    )

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        given = [
            name for name in ("error", "malformed_tool_arguments", "hang", "drop_connection") if getattr(self, name)
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of 'error', 'malformed_tool_arguments', 'hang' or 'drop_connection'")
        return self

    @property
    def kind(self) -> FaultKind:
        if self.error:
            return "error"
        if self.malformed_tool_arguments:
            return "malformed_tool_arguments"
        return "hang" if self.hang else "drop_connection"


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
