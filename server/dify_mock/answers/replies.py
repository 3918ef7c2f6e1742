"""What an answer says, before it is shaped into the SDK's chunks.

Fixture rules and the built-in answers both produce these; `reverse/models.py` renders them.
Every reply may carry `error`: the reverse call then fails with that message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: str | None = Field(default=None, description="Fail the call with this message instead of answering.")


class ToolCallReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict, description="An object, or a raw JSON string.")
    id: str | None = Field(default=None, description="Defaults to call_<n>.")


class UsageReply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class LLMReply(Reply):
    text: str = ""
    chunks: list[str] | None = Field(
        default=None, description="The exact pieces to stream; `text` is ignored when given."
    )
    tool_calls: list[ToolCallReply] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: UsageReply | None = None
    structured_output: dict[str, Any] | None = Field(
        default=None, description="For llm_structured_output: the object returned (and its JSON the text)."
    )


class EmbeddingReply(Reply):
    dimensions: int | None = Field(default=None, ge=1, le=65536)
    embeddings: list[list[float]] | None = None


class RerankReply(Reply):
    scores: list[float] | None = Field(default=None, description="One score per document, in order.")


class TTSReply(Reply):
    audio_file: Path | None = Field(default=None, description="An MP3 file, relative to the fixture file.")
    text: str | None = Field(default=None, description="Speak this text instead of the request's.")


class Speech2TextReply(Reply):
    text: str = ""


class ModerationReply(Reply):
    flagged: bool = False


class SummaryReply(Reply):
    summary: str = ""


REPLY_MODELS: dict[str, type[Reply]] = {
    "llm": LLMReply,
    "llm_structured_output": LLMReply,
    "text_embedding": EmbeddingReply,
    "multimodal_embedding": EmbeddingReply,
    "rerank": RerankReply,
    "multimodal_rerank": RerankReply,
    "tts": TTSReply,
    "speech2text": Speech2TextReply,
    "moderation": ModerationReply,
    "system_summary": SummaryReply,
}
