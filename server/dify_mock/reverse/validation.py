"""The daemon's checks of a reverse request, before anything answers it, with the daemon's own words.

The daemon decodes each request into its Go struct for the invoke type and runs go-playground/validator on it: a
failure goes back to the plugin as `unmarshal backwards invoke request failed: error validating struct: ` and one
line per failing field, `Key: '<Struct>.<Embedded>.<Field>' Error:Field validation for '<Field>' failed on the
'<tag>' tag`, in the struct's field order. Each table row below is one validated field of those structs
(internal/core/dify_invocation/types.go and pkg/entities/requests/ in the daemon).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PREFIX = "unmarshal backwards invoke request failed: error validating struct: "
STORAGE_OPTS = ("get", "set", "del", "exist")
TOOL_TYPES = ("builtin", "workflow", "api", "mcp")


@dataclass(frozen=True)
class Rule:
    path: tuple[str, ...]  # where the value is in the request (JSON names)
    key: str  # the validator's namespace after the struct's name
    tag: str  # `required`, or the name of the check after it (oneof, storage_opt, tool_type)
    allowed: tuple[str, ...] = ()  # for a named check: the values it accepts


def _missing(value: Any) -> bool:
    """Go's `required`: the zero value of the field's type (JSON null and absent decode to it too)."""
    return value is None or value == "" or value is False or (isinstance(value, int | float) and value == 0)


MODEL = (
    Rule(("provider",), "BaseRequestInvokeModel.Provider", "required"),
    Rule(("model",), "BaseRequestInvokeModel.Model", "required"),
)
NODE_MODEL = (
    Rule(("model", "provider"), "Model.Provider", "required"),
    Rule(("model", "name"), "Model.Name", "required"),
    Rule(("model", "mode"), "Model.Mode", "required"),
)
# invoke type -> (Go struct, its validated fields in order)
STRUCTS: dict[str, tuple[str, tuple[Rule, ...]]] = {
    "llm": ("InvokeLLMRequest", (*MODEL, Rule(("mode",), "InvokeLLMSchema.Mode", "required"))),
    "llm_structured_output": (
        "InvokeLLMWithStructuredOutputRequest",
        (
            *MODEL,
            Rule(("mode",), "InvokeLLMSchema.Mode", "required"),
            Rule(("structured_output_schema",), "StructuredOutputSchema", "required"),
        ),
    ),
    "text_embedding": (
        "InvokeTextEmbeddingRequest",
        (
            *MODEL,
            Rule(("texts",), "InvokeTextEmbeddingSchema.Texts", "required"),
            Rule(("input_type",), "InvokeTextEmbeddingSchema.InputType", "required"),
        ),
    ),
    "multimodal_embedding": (
        "InvokeMultimodalEmbeddingRequest",
        (
            *MODEL,
            Rule(("documents",), "InvokeMultimodalEmbeddingSchema.Documents", "required"),
            Rule(
                ("input_type",),
                "InvokeMultimodalEmbeddingSchema.InputType",
                "oneof",
                ("document", "query"),
            ),
        ),
    ),
    "rerank": (
        "InvokeRerankRequest",
        (
            *MODEL,
            Rule(("query",), "InvokeRerankSchema.Query", "required"),
            Rule(("docs",), "InvokeRerankSchema.Docs", "required"),
        ),
    ),
    "multimodal_rerank": (
        "InvokeMultimodalRerankRequest",
        (*MODEL, Rule(("docs",), "InvokeMultimodalRerankSchema.Docs", "required")),
    ),
    "tts": (
        "InvokeTTSRequest",
        (
            *MODEL,
            Rule(("content_text",), "InvokeTTSSchema.ContentText", "required"),
            Rule(("voice",), "InvokeTTSSchema.Voice", "required"),
            Rule(("tenant_id",), "InvokeTTSSchema.TenantID", "required"),
        ),
    ),
    "speech2text": ("InvokeSpeech2TextRequest", (*MODEL, Rule(("file",), "InvokeSpeech2TextSchema.File", "required"))),
    "moderation": ("InvokeModerationRequest", (*MODEL, Rule(("text",), "InvokeModerationSchema.Text", "required"))),
    "tool": (
        "InvokeToolRequest",
        (
            Rule(("tool_type",), "ToolType", "tool_type", TOOL_TYPES),
            Rule(("provider",), "InvokeToolSchema.Provider", "required"),
            Rule(("tool",), "InvokeToolSchema.Tool", "required"),
        ),
    ),
    "app": ("InvokeAppRequest", (Rule(("app_id",), "InvokeAppSchema.AppId", "required"),)),
    "node_parameter_extractor": (
        "InvokeParameterExtractorRequest",
        (
            Rule(("parameters",), "Parameters", "required"),
            *NODE_MODEL,
            Rule(("query",), "Query", "required"),
        ),
    ),
    "node_question_classifier": (
        "InvokeQuestionClassifierRequest",
        (
            Rule(("classes",), "Classes", "required"),
            *NODE_MODEL,
            Rule(("query",), "Query", "required"),
        ),
    ),
    "storage": (
        "InvokeStorageRequest",
        (Rule(("opt",), "Opt", "storage_opt", STORAGE_OPTS), Rule(("key",), "Key", "required")),
    ),
    "system_summary": ("InvokeSummaryRequest", (Rule(("text",), "InvokeSummarySchema.Text", "required"),)),
    "upload_file": (
        "UploadFileRequest",
        (Rule(("filename",), "Filename", "required"), Rule(("mimetype",), "MimeType", "required")),
    ),
    "fetch_app": ("FetchAppRequest", (Rule(("app_id",), "AppId", "required"),)),
}


def _value(request: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = request
    for name in path:
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _failure(rule: Rule, value: Any) -> str | None:
    """The tag the value fails on: `required` first (a named check also refuses the zero value with it)."""
    if _missing(value):
        return "required"
    if rule.allowed and value not in rule.allowed:
        return rule.tag
    return None


def request_error(invoke_type: str, request: dict[str, Any]) -> str | None:
    """The daemon's refusal of this request, or None when its struct validates."""
    known = STRUCTS.get(invoke_type)
    if known is None:
        return None
    struct, rules = known
    lines = []
    for rule in rules:
        tag = _failure(rule, _value(request, rule.path))
        if tag is not None:
            field = rule.key.rpartition(".")[2]
            lines.append(f"Key: '{struct}.{rule.key}' Error:Field validation for '{field}' failed on the '{tag}' tag")
    return PREFIX + "\n".join(lines) if lines else None
