"""Dify's inner API for a real dify-plugin-daemon: `POST /inner/api/...`, what the daemon calls when a plugin asks
the platform for a model, a tool, an app, a node, a summary or an upload URL.

The answers come from the same reverse handlers as every runtime's (`reverse/service.py`); only the wire differs:
unary routes answer one `{"data": ..., "error": ""}` envelope as JSON, streaming routes one envelope per chunk in
length-prefixed frames (what current daemons read), or as server-sent events when asked for (see `stream_format`).
The daemon has already checked the plugin's permissions, so every call is allowed here; the daemon does not say
which plugin called, so the journal names the caller `dify-plugin-daemon/inner-api`.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from dify_mock.config.settings import Settings, is_loopback
from dify_mock.host import Host
from dify_mock.http.dispatch import get_host
from dify_mock.http.streaming import BoundedStream
from dify_mock.plugins.registry import PluginRuntime, Session
from dify_mock.protocol.framing import FrameTooLarge, length_prefixed_frame, sse_event
from dify_mock.protocol.messages import BackwardsInvoke, dump_bytes
from dify_mock.reverse.relay import dify_error_body
from dify_mock.reverse.service import answer_backwards

log = logging.getLogger("dify_mock.inner_api")

router = APIRouter()

CALLER_AUTHOR, CALLER_NAME = "dify-plugin-daemon", "inner-api"
# route -> invoke type, for the routes whose answers stream and those that answer once
STREAMING_ROUTES = {
    "invoke/llm": "llm",
    "invoke/llm/structured-output": "llm_structured_output",
    "invoke/tts": "tts",
    "invoke/tool": "tool",
    "invoke/app": "app",
}
UNARY_ROUTES = {
    "invoke/text-embedding": "text_embedding",
    "invoke/multimodal-embedding": "multimodal_embedding",
    "invoke/rerank": "rerank",
    "invoke/multimodal-rerank": "multimodal_rerank",
    "invoke/speech2text": "speech2text",
    "invoke/moderation": "moderation",
    "invoke/parameter-extractor": "node_parameter_extractor",
    "invoke/question-classifier": "node_question_classifier",
    "invoke/summary": "system_summary",
    "upload/file/request": "upload_file",
    "fetch/app/info": "fetch_app",
    "invoke/encrypt": "encrypt",
}
DOUBLE_WRAPPED = frozenset({"fetch_app", "encrypt"})  # Dify nests these answers once more: {"data": {"data": ...}}
ALLOW_EVERYTHING = {
    "tool": {"enabled": True},
    "model": {key: True for key in ("enabled", "llm", "text_embedding", "rerank", "tts", "speech2text", "moderation")},
    "node": {"enabled": True},
    "app": {"enabled": True},
    "storage": {"enabled": True, "size": 1048576},
}
# What Flask answers for an unknown URL, which is what Dify answers a wrong key with.
NOT_FOUND_PAGE = (
    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on the server. If you entered the URL manually please check your "
    "spelling and try again.</p>\n"
)


class _NoConnection:
    """The inner API answers over HTTP; nothing is ever sent to a plugin through here."""

    kind = "inner-api"

    def send(self, message: dict[str, Any]) -> None:
        raise ConnectionError("the inner API has no plugin connection")

    def close(self, reason: str) -> None:
        pass


def not_found() -> HTMLResponse:
    return HTMLResponse(NOT_FOUND_PAGE, status_code=404)


def invalid_param(message: str) -> Response:
    """Dify's answer to a ValueError raised before the call starts (ExternalApi); the daemon quotes it to the plugin,
    and reverse/relay.py quotes the same bytes for a plugin connected to the mock."""
    return Response(dify_error_body(message), status_code=400, media_type="application/json")


def key_accepted(settings: Settings, given: str | None) -> bool:
    expected = settings.inner_api_key
    if expected is None:
        return is_loopback(settings.host)  # beyond this machine the inner API needs a key, or it stays shut
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def stream_format(settings: Settings, accept: str | None) -> str:
    """`frames` or `sse`. With --inner-api-stream auto: SSE only when the Accept header names text/event-stream
    (curl -H 'Accept: text/event-stream', an EventSource), frames otherwise. The daemon's Go client sends no
    Accept header, so it gets frames; daemons older than June 2025 read lines: give them --inner-api-stream sse."""
    if settings.inner_api_stream != "auto":
        return settings.inner_api_stream
    for media_range in (accept or "").split(","):
        kind, *parameters = (part.strip() for part in media_range.split(";"))
        if kind.lower() == "text/event-stream":
            quality = next((p.partition("=")[2] for p in parameters if p.lower().startswith("q=")), "1")
            try:
                return "sse" if float(quality) > 0 else "frames"
            except ValueError:
                return "sse"
    return "frames"


def caller_session(
    tenant_id: str, user_id: str, invoke_type: str, caller_gone: Callable[[], Awaitable[bool]] | None = None
) -> Session:
    runtime = PluginRuntime(
        tenant_id=tenant_id,
        manifest={"author": CALLER_AUTHOR, "name": CALLER_NAME, "resource": {"permission": ALLOW_EVERYTHING}},
        declarations={},
        assets={},
        connection=_NoConnection(),
    )
    return Session(str(uuid.uuid4()), runtime, "inner_api", invoke_type, user_id, {}, caller_gone=caller_gone)


class Outcomes:
    """(answer, "") for each answer of the call, or (None, error text) once when it fails: the reverse handler's
    events, read one `next()` at a time (an async generator here would cost a hop more per chunk)."""

    def __init__(self, host: Host, invoke_type: str, body: dict[str, Any], request: Request) -> None:
        if invoke_type == "encrypt":
            self.events: AsyncIterator[dict[str, Any]] = encrypt(host, body)
            return
        session = caller_session(str(body["tenant_id"]), str(body["user_id"]), invoke_type, request.is_disconnected)
        invoke = BackwardsInvoke(invoke_type, uuid.uuid4().hex, body)
        self.events = answer_backwards(host, session, invoke, relayed=False)

    async def next(self) -> tuple[Any, str] | None:
        async for event in self.events:
            if event["event"] == "response":
                return event["data"], ""
            if event["event"] == "error":
                return None, str(event["message"])
        return None

    async def drain(self) -> None:
        async for _ in self.events:
            pass


async def encrypt(host: Host, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """The daemon's own call for endpoint settings: the mock keeps secrets as they are (the daemon's mock does too).
    Its events have the shape of the reverse handlers' (`event`, `data`, `message`)."""
    entry = host.journal.start("reverse", "encrypt", str(body["tenant_id"]), f"{CALLER_AUTHOR}/{CALLER_NAME}", "", body)
    operation, data = body.get("opt"), body.get("data")
    error = None
    if operation not in ("encrypt", "decrypt", "clear"):
        error = f"opt must be encrypt, decrypt or clear, got {operation!r}"
        yield {"event": "error", "message": error, "data": None}
    elif not isinstance(data, dict):
        error = "data must be an object"
        yield {"event": "error", "message": error, "data": None}
    else:
        answer = {} if operation == "clear" else data
        entry.add_chunk(answer)
        yield {"event": "response", "message": "", "data": answer}
    host.journal.finish(entry, answered_by="builtin", error=error)


def envelope(invoke_type: str, data: Any, error: str) -> dict[str, Any]:
    if data is not None and invoke_type in DOUBLE_WRAPPED:
        data = {"data": data}
    return {"data": data, "error": error}


@router.post("/inner/api/{route:path}", response_model=None)
async def inner_api(route: str, request: Request) -> Response:
    host = get_host(request)
    settings = host.settings
    if not key_accepted(settings, request.headers.get("x-inner-api-key")):
        log.warning(
            "inner API call to %s refused with 404, as Dify does: %s",
            route,
            "wrong or missing X-Inner-Api-Key"
            if settings.inner_api_key
            else f"set --inner-api-key to use the inner API on {settings.host}",
        )
        return not_found()
    route = route.strip("/")
    invoke_type = STREAMING_ROUTES.get(route) or UNARY_ROUTES.get(route)
    if invoke_type is None:
        return not_found()
    try:
        body = orjson.loads(await request.body())
    except ValueError as error:
        return invalid_param(f"invalid payload: the body is not JSON: {error}")
    if not isinstance(body, dict):
        return invalid_param("invalid payload: the body must be a JSON object")
    for name in ("tenant_id", "user_id"):
        if not isinstance(body.get(name), str):
            return invalid_param(f"invalid payload: {name} is required (a string) in the body of /inner/api/{route}")
    if not body["tenant_id"]:
        return invalid_param("tenant not found: tenant_id is empty")
    body["user_id"] = body["user_id"] or "DEFAULT-USER"
    answers = Outcomes(host, invoke_type, body, request)
    if route in UNARY_ROUTES:
        return await unary(invoke_type, answers)
    return await streaming(settings, invoke_type, answers, request.headers.get("accept"))


async def unary(invoke_type: str, answers: Outcomes) -> JSONResponse:
    """One envelope, status 200 even for an error, as Dify's unary routes answer."""
    result: tuple[Any, str] | None = None
    while (outcome := await answers.next()) is not None:
        if result is None or outcome[1]:
            result = outcome
    data, error = result if result is not None else (None, "the call produced no answer")
    return JSONResponse(envelope(invoke_type, None if error else data, error))


async def streaming(settings: Settings, invoke_type: str, answers: Outcomes, accept: str | None) -> Response:
    first = await answers.next()
    if first is not None and first[1]:
        # Dify calls the model synchronously before it streams: an early failure is an HTTP 400, not a frame.
        await answers.drain()
        return invalid_param(first[1])
    sse = stream_format(settings, accept) == "sse"

    max_bytes = settings.inner_api_max_frame_bytes

    async def body() -> AsyncIterator[bytes]:
        outcome = first
        while outcome is not None:
            data, error = outcome
            try:
                yield encode(envelope(invoke_type, data, error), sse, max_bytes)
            except FrameTooLarge as too_large:
                text = f"dify-mock: {too_large} (--inner-api-max-frame-bytes, the daemon's RESPONSE_MAX_BUFFER_SIZE)"
                log.warning("inner API %s: %s", invoke_type, text)
                yield encode(envelope(invoke_type, None, text), sse, max_bytes)
                await answers.drain()
                return
            if error:
                await answers.drain()  # the handler's `end`: its journal entry is finished now
                return
            outcome = await answers.next()

    # Dify's own media type for the framed answer; the daemon reads the status only.
    return BoundedStream(body(), media_type="text/event-stream")


def encode(value: dict[str, Any], sse: bool, max_bytes: int) -> bytes:
    """One envelope as a frame, or as an event (older daemons read lines of at most the same size)."""
    if not sse:
        return length_prefixed_frame(dump_bytes(value), max_bytes)
    event = sse_event(value)
    if len(event) > max_bytes:
        raise FrameTooLarge(f"an event of {len(event)} bytes is over the limit of {max_bytes} bytes")
    return event
