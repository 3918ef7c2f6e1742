"""The road every reverse call takes: permission, handler, journal; transports only frame what comes out."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from dify_mock.protocol.depth import nests_deeper_than, too_deep
from dify_mock.protocol.messages import BackwardsInvoke, backwards_response
from dify_mock.protocol.reverse_call import ReverseCall, ReverseError
from dify_mock.reverse import apps, models, nodes
from dify_mock.reverse.files import answer_upload_file
from dify_mock.reverse.permissions import permission_error
from dify_mock.reverse.storage import answer_storage
from dify_mock.reverse.tools import answer_tool

if TYPE_CHECKING:
    from dify_mock.host import Host
    from dify_mock.plugins.registry import Session

log = logging.getLogger("dify_mock.reverse")

Handler = Callable[["Host", ReverseCall], AsyncIterator[dict[str, Any]]]

# invoke type -> (the daemon's `message` for each answer, how a failure is introduced, handler)
HANDLERS: dict[str, tuple[str, str, Handler]] = {
    "llm": ("stream", "invoke llm model failed", models.answer_llm),
    "llm_structured_output": (
        "stream",
        "invoke llm with structured output model failed",
        models.answer_llm,
    ),
    "text_embedding": ("struct", "invoke text-embedding model failed", models.answer_embedding),
    "multimodal_embedding": ("struct", "invoke multimodal-embedding model failed", models.answer_embedding),
    "rerank": ("struct", "invoke rerank model failed", models.answer_rerank),
    "multimodal_rerank": ("struct", "invoke multimodal-rerank model failed", models.answer_rerank),
    "tts": ("stream", "invoke tts model failed", models.answer_tts),
    "speech2text": ("struct", "invoke speech2text model failed", models.answer_speech2text),
    "moderation": ("struct", "invoke moderation model failed", models.answer_moderation),
    "system_summary": ("struct", "invoke summary failed", models.answer_summary),
    "storage": ("struct", "", answer_storage),
    "tool": ("stream", "invoke tool failed", answer_tool),
    "app": ("stream", "invoke app failed", apps.answer_app),
    "fetch_app": ("struct", "fetch app failed", apps.answer_fetch_app),
    "node_parameter_extractor": ("struct", "invoke parameter extractor failed", nodes.answer_parameter_extractor),
    "node_question_classifier": ("struct", "invoke question classifier failed", nodes.answer_question_classifier),
    "upload_file": ("struct", "upload file failed", answer_upload_file),
}

# Fields each request must carry; the SDK always sends them, so a missing one means a hand-made or broken call.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "llm": ("model", "prompt_messages"),
    "llm_structured_output": ("model", "prompt_messages", "structured_output_schema"),
    "text_embedding": ("model", "texts"),
    "multimodal_embedding": ("model", "documents"),
    "rerank": ("model", "query", "docs"),
    "multimodal_rerank": ("model", "query", "docs"),
    "tts": ("model", "content_text"),
    "speech2text": ("model", "file"),
    "moderation": ("model", "text"),
    "system_summary": ("text",),
    "tool": ("provider", "tool"),
    "app": ("app_id",),
    "fetch_app": ("app_id",),
    "node_parameter_extractor": ("parameters", "model", "query"),
    "node_question_classifier": ("classes", "model", "query"),
    "upload_file": ("filename", "mimetype"),
}


async def answer_backwards(host: Host, session: Session, invoke: BackwardsInvoke) -> AsyncIterator[dict[str, Any]]:
    """The `data` of each backwards_response event for one reverse call: answers, maybe an error, then end."""
    request_id = invoke.backwards_request_id
    runtime = session.runtime
    call = ReverseCall(
        invoke.type, invoke.request, runtime.tenant_id, runtime.plugin_id, session.user_id, session.session_id
    )
    call.caller_gone = session.caller_gone
    deep = nests_deeper_than(invoke.request, host.settings.max_json_depth)
    request = {"refused": too_deep(host.settings.max_json_depth)} if deep else invoke.request
    entry = host.journal.start(
        "reverse", invoke.type, runtime.tenant_id, runtime.plugin_id, session.session_id, request
    )
    error: str | None = None
    try:
        denied = too_deep(host.settings.max_json_depth) if deep else None
        denied = denied or permission_error(runtime.manifest, invoke.type, session.access_type)
        handler = HANDLERS.get(invoke.type)
        if denied is None and handler is None:
            denied = f"unsupported invoke type: {invoke.type}"
        if denied is not None:
            call.answered_by = "limits" if deep else "permissions"
            error = denied
        else:
            assert handler is not None
            message, failure, handle = handler
            try:
                missing = [name for name in REQUIRED_FIELDS.get(invoke.type, ()) if name not in invoke.request]
                if missing:
                    raise ReverseError(f"unmarshal backwards invoke request failed: missing {', '.join(missing)}")
                async for data in handle(host, call):
                    entry.add_chunk(data, as_is=call.answer_holds_no_credentials)
                    yield backwards_response(request_id, "response", message, data)
            except ReverseError as failed:
                error = f"{failure}: {failed}" if failure else str(failed)
            except Exception as crashed:
                log.exception("reverse %s call from %s failed inside dify-mock", invoke.type, runtime.plugin_id)
                error = f"{failure or invoke.type}: dify-mock could not answer: {type(crashed).__name__}: {crashed}"
        if error is not None:
            yield backwards_response(request_id, "error", error)
        yield backwards_response(request_id, "end")
    finally:
        host.journal.finish(entry, answered_by=call.answered_by, error=error, rule=call.rule)
        for change in call.scenario_changes:
            moved = host.journal.start(
                "scenario", change["scenario"], runtime.tenant_id, runtime.plugin_id, session.session_id, change
            )
            host.journal.finish(moved, answered_by=f"rule:{change['rule']}")
