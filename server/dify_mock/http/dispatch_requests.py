"""The daemon's check of a dispatch request's `data`, in its words.

The daemon binds the body into `InvokePluginRequest[<the route's struct>]` and ignores a body it cannot decode (not
JSON, not an object, `data` not an object): the struct then keeps its zero values. It validates the struct with
go-playground/validator and answers 400 with one line per failing field, `Key: '<namespace>' Error:Field validation
for '<Field>' failed on the '<tag>' tag`. What passes is encoded again from the struct for the plugin, so a map the
caller left out (`credentials`) reaches the plugin as null. The routes below are those measured against the real
daemon or read from its structs (pkg/entities/requests/); other routes keep dify-mock's own checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NAMESPACE = "InvokePluginRequest[github.com/langgenius/dify-plugin-daemon/pkg/entities/requests.{struct}].Data.{key}"


@dataclass(frozen=True)
class Field:
    name: str  # the JSON name in `data`
    key: str  # its place in the struct, embedded structs included
    equals: str | None = None  # the `eq=` the daemon adds for a model type


MODEL = (Field("provider", "BaseRequestInvokeModel.Provider"), Field("model", "BaseRequestInvokeModel.Model"))


def model_type(value: str) -> Field:
    return Field("model_type", "ModelType", value)


# route -> (the struct, its required fields in the struct's order)
STRUCTS: dict[str, tuple[str, tuple[Field, ...]]] = {
    "tool/invoke": (
        "RequestInvokeTool",
        (Field("provider", "InvokeToolSchema.Provider"), Field("tool", "InvokeToolSchema.Tool")),
    ),
    "tool/validate_credentials": ("RequestValidateToolCredentials", (Field("provider", "Provider"),)),
    "tool/get_runtime_parameters": (
        "RequestGetToolRuntimeParameters",
        (Field("provider", "Provider"), Field("tool", "Tool")),
    ),
    "llm/invoke": ("RequestInvokeLLM", (*MODEL, model_type("llm"))),
    "text_embedding/invoke": (
        "RequestInvokeTextEmbedding",
        (
            *MODEL,
            Field("texts", "InvokeTextEmbeddingSchema.Texts"),
            Field("input_type", "InvokeTextEmbeddingSchema.InputType"),
            model_type("text-embedding"),
        ),
    ),
    "rerank/invoke": (
        "RequestInvokeRerank",
        (
            *MODEL,
            Field("query", "InvokeRerankSchema.Query"),
            Field("docs", "InvokeRerankSchema.Docs"),
            model_type("rerank"),
        ),
    ),
    "tts/invoke": (
        "RequestInvokeTTS",
        (
            *MODEL,
            Field("content_text", "InvokeTTSSchema.ContentText"),
            Field("voice", "InvokeTTSSchema.Voice"),
            Field("tenant_id", "InvokeTTSSchema.TenantID"),
            model_type("tts"),
        ),
    ),
    "speech2text/invoke": (
        "RequestInvokeSpeech2Text",
        (*MODEL, Field("file", "InvokeSpeech2TextSchema.File"), model_type("speech2text")),
    ),
    "moderation/invoke": (
        "RequestInvokeModeration",
        (*MODEL, Field("text", "InvokeModerationSchema.Text"), model_type("moderation")),
    ),
}
# Fields of these structs that reach the plugin at their Go zero value when the caller leaves them out: every
# route's struct has a `credentials` map (null), tool/invoke its `tool_parameters`, llm/invoke a `stream` bool.
ZERO_VALUES: dict[str, dict[str, Any]] = {
    "tool/invoke": {"tool_parameters": None},
    "llm/invoke": {"stream": False},
}


def _zero(value: Any) -> bool:
    return value is None or value == "" or value is False or (type(value) in (int, float) and value == 0)


def decodes_as_json(content_type: str | None) -> bool:
    """gin binds JSON for `application/json` (parameters aside); any other body, or none, binds nothing here."""
    return (content_type or "").partition(";")[0].strip().lower() == "application/json"


def data_error(route: str, data: dict[str, Any]) -> str | None:
    """The daemon's 400 message for this route's `data` (an empty dict for a body it could not decode), or None
    when it passes; also None for a route not in the table."""
    known = STRUCTS.get(route)
    if known is None:
        return None
    struct, fields = known
    lines = []
    for field in fields:
        value = data.get(field.name)
        tag = "required" if _zero(value) else ("eq" if field.equals is not None and value != field.equals else None)
        if tag is not None:
            name = field.key.rpartition(".")[2]
            where = NAMESPACE.format(struct=struct, key=field.key)
            lines.append(f"Key: '{where}' Error:Field validation for '{name}' failed on the '{tag}' tag")
    return "\n".join(lines) or None


def as_decoded(route: str, data: dict[str, Any]) -> dict[str, Any]:
    """`data` as the daemon passes it on: the fields its struct declares, at their zero value where the caller left
    them out."""
    return {"credentials": None, **ZERO_VALUES.get(route, {}), **data}
