"""What an answer says, before it is shaped into the SDK's chunks.

Fixture rules and the built-in answers both produce these; `reverse/models.py` renders them.
Every reply may carry `error`: the reverse call then fails with that message.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator


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


# --- tool: the messages a reverse tool call answers with ------------------------------------------------


class ToolMessageBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str  # each kind narrows it to its Literal: the union's discriminator
    meta: dict[str, Any] | None = Field(
        default=None, description="Sent as the message's `meta` (merged over the defaults, e.g. mime_type)."
    )


class TextToolMessage(ToolMessageBase):
    """A text message."""

    type: Literal["text"]
    text: str


class LinkToolMessage(ToolMessageBase):
    """A link: give the URL as `link` (or `text`)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["link"]}, {"required": ["text"]}]})

    type: Literal["link"]
    link: str | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _one_url(self) -> Self:
        if (self.link is None) == (self.text is None):
            raise ValueError("give exactly one of 'link' or 'text'")
        return self

    @property
    def url(self) -> str:
        return self.link if self.link is not None else str(self.text)


class ImageToolMessage(ToolMessageBase):
    """An image, by URL."""

    type: Literal["image"]
    url: str


class JsonToolMessage(ToolMessageBase):
    """A JSON message: an object or a list."""

    type: Literal["json"]
    data: dict[str, Any] | list[Any] = Field(alias="json", description="An object or a list.")


class BlobToolMessage(ToolMessageBase):
    """Binary data: give the bytes as `blob_base64`, or a `text` sent as its UTF-8 bytes."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["blob_base64"]}, {"required": ["text"]}]})

    type: Literal["blob"]
    blob_base64: str | None = Field(default=None, description="The bytes, base64-encoded.")
    text: str | None = Field(default=None, description="A text whose UTF-8 bytes are the blob.")
    mime_type: str | None = Field(
        default=None, description="Sent as meta.mime_type; defaults to text/plain for `text`, else octet-stream."
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.blob_base64 is None) == (self.text is None):
            raise ValueError("give exactly one of 'blob_base64' or 'text'")
        if self.blob_base64 is not None:
            try:
                base64.b64decode(self.blob_base64, validate=True)
            except (binascii.Error, ValueError) as error:
                raise ValueError(f"'blob_base64' is not valid base64: {error}") from None
        return self

    def data(self) -> bytes:
        if self.blob_base64 is not None:
            return base64.b64decode(self.blob_base64, validate=True)
        return str(self.text).encode("utf-8")

    def content_type(self) -> str:
        if self.mime_type is not None:
            return self.mime_type
        return "text/plain" if self.text is not None else "application/octet-stream"


class VariableToolMessage(ToolMessageBase):
    """Sets a variable; a streamed variable's value must be a string (the SDK refuses anything else)."""

    type: Literal["variable"]
    name: str
    value: JsonValue = Field(description="Any JSON value; a string when `stream` is true.")
    stream: bool = False

    @model_validator(mode="after")
    def _streamed_is_text(self) -> Self:
        if self.stream and not isinstance(self.value, str):
            raise ValueError("a streamed variable's 'value' must be a string")
        return self


class FileToolMessage(ToolMessageBase):
    """A file reference, passed through as meta.file (the message itself is null, as the SDK accepts it)."""

    type: Literal["file"]
    file: dict[str, Any] = Field(description="The file as Dify describes it (url, filename, mime_type, ...).")


class LogToolMessage(ToolMessageBase):
    """A log entry, as agent strategies and workflow tools report their steps."""

    type: Literal["log"]
    label: str
    status: Literal["start", "error", "success"] = "success"
    data: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(default=None, description="Defaults to log_<n>, n the message's place in the reply.")
    parent_id: str | None = None
    error: str | None = None
    metadata: (
        dict[
            Literal["started_at", "finished_at", "elapsed_time", "total_price", "total_tokens", "provider", "currency"],
            Any,
        ]
        | None
    ) = None


ToolMessageReply = Annotated[
    TextToolMessage
    | LinkToolMessage
    | ImageToolMessage
    | JsonToolMessage
    | BlobToolMessage
    | VariableToolMessage
    | FileToolMessage
    | LogToolMessage,
    Field(discriminator="type"),
]


class ToolReply(Reply):
    messages: list[ToolMessageReply] = Field(
        default_factory=list, description="What the tool yields, in order; `type` says which kind each one is."
    )


# --- apps and workflow nodes ---------------------------------------------------------------------------

AppMode = Literal["chat", "agent-chat", "advanced-chat", "completion", "workflow"]


class AppReply(Reply):
    mode: AppMode | None = Field(
        default=None,
        description="The app's kind. Default: chat when the call has a query (session.app.chat), else workflow.",
    )
    answer: str | None = Field(
        default=None,
        description="The answer, streamed word by word (for a workflow: text_chunk events and the output `text`).",
    )
    chunks: list[str] | None = Field(
        default=None, description="The exact pieces to stream; `answer` is ignored when given."
    )
    outputs: dict[str, Any] | None = Field(
        default=None, description="A workflow's outputs. Default: {text: answer} with an answer, else the inputs."
    )
    conversation_id: str | None = Field(
        default=None, description="Chat kinds: the conversation id answered. Default: the call's, else a new one."
    )
    events: list[dict[str, Any]] | None = Field(
        default=None, description="Streaming calls get exactly these event dicts instead of the generated ones."
    )
    blocking: dict[str, Any] | None = Field(
        default=None, description="Blocking calls get exactly this dict instead of the generated response."
    )


class FetchAppReply(Reply):
    info: dict[str, Any] = Field(
        default_factory=dict,
        description="The app's parameters; keys given replace the built-in ones (user_input_form, "
        "opening_statement, suggested_questions, file_upload, ...).",
    )


class ParameterExtractorReply(Reply):
    outputs: dict[str, Any] = Field(
        default_factory=dict,
        description="The extracted values by parameter name. Declared parameters left out get Dify's empty value "
        '("", 0, false, []); __is_success and __reason default to 1 and null.',
    )


class QuestionClassifierReply(Reply):
    """The chosen class, by `class_name` or by `class_id`; it must be one of the classes the call declares."""

    model_config = ConfigDict(
        json_schema_extra={"anyOf": [{"required": ["class_name"]}, {"required": ["class_id"]}, {"required": ["error"]}]}
    )

    class_name: str | None = None
    class_id: str | None = None

    @model_validator(mode="after")
    def _one_class(self) -> Self:
        if self.error is None and (self.class_name is None) == (self.class_id is None):
            raise ValueError("give exactly one of 'class_name' or 'class_id'")
        return self


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
    "tool": ToolReply,
    "app": AppReply,
    "fetch_app": FetchAppReply,
    "node_parameter_extractor": ParameterExtractorReply,
    "node_question_classifier": QuestionClassifierReply,
}
