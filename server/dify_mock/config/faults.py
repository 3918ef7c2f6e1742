"""Latency and fault settings: what a fixture rule (`latency:`, `fault:`) or the config file (`latency:`, `faults:`)
asks of an answer. `answers/faults.py` applies them to the chunk stream."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

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

    def paces(self) -> bool:
        """Whether it makes the answer wait at all."""
        return bool(self.delay or self.first_chunk or self.per_chunk or self.seconds_per_token())


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
