"""`POST /backwards-invocation/transaction`: a serverless plugin's reverse call, one HTTP call each.

The body is one plugin event (a session `invoke`) followed by a blank line; the answer is the same
`backwards_response` envelopes the full-duplex runtimes get, each followed by a blank line, with a bare blank line
as keep-alive while a long call is still being answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from dify_mock.http.dispatch import get_host
from dify_mock.protocol.framing import transaction_line
from dify_mock.protocol.messages import (
    ProtocolError,
    backwards_response,
    host_envelope,
    parse_backwards_invoke,
    parse_plugin_event,
    parse_session_message,
)
from dify_mock.protocol.words import plural
from dify_mock.reverse.service import answer_backwards

log = logging.getLogger("dify_mock.transaction")

router = APIRouter()
MAX_BODY_BYTES = 6 * 1024 * 1024  # the daemon's limit for a transaction body
KEEPALIVE = b"\n\n"
# The daemon's words for a session it does not know, and what they mean here.
SESSION_CACHE_MISS = (
    "failed to get session info from cache (the request it belonged to has finished, it never existed, "
    "or it is not a serverless session: a serverless plugin names its own session in Dify-Plugin-Session-ID)"
)


async def with_keepalive(items: AsyncIterator[bytes], interval: float) -> AsyncIterator[bytes]:
    """`items`, with a keep-alive blank line whenever `interval` seconds pass without one."""
    iterator = aiter(items)
    pending: asyncio.Future[bytes] = asyncio.ensure_future(anext(iterator))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield KEEPALIVE
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            yield item
            pending = asyncio.ensure_future(anext(iterator))
    finally:
        pending.cancel()  # when the reader went away mid-call; a finished one keeps its outcome
        with contextlib.suppress(BaseException):
            await pending  # collects that outcome, so no "exception was never retrieved"
        closer = getattr(iterator, "aclose", None)
        if closer is not None:
            await closer()


def refusal(session_id: str, request_id: str, message: str, status: int) -> Response:
    """An error the SDK reads cleanly: unlike the daemon's bare 400 body, the lines carry `session_id`."""
    lines = b"".join(
        transaction_line(host_envelope(session_id, "backwards_response", backwards_response(request_id, event, text)))
        for event, text in (("error", message), ("end", ""))
    )
    return Response(lines, status_code=status, media_type="text/event-stream")


@router.post("/backwards-invocation/transaction", response_model=None)
async def transaction(request: Request) -> Response:
    host = get_host(request)
    body = await request.body()
    header_session = request.headers.get("dify-plugin-session-id", "")
    if len(body) > MAX_BODY_BYTES:
        text = f"the transaction body is {len(body)} bytes, over the limit of {MAX_BODY_BYTES}"
        return refusal(header_session, "", text, 413)
    session_id, request_id = header_session, ""
    try:
        lines = [line for line in body.split(b"\n") if line.strip()]
        if len(lines) != 1:
            raise ProtocolError(f"the body must be exactly one plugin event, got {plural(len(lines), 'line')}")
        event = parse_plugin_event(lines[0])
        session_id = event.session_id or session_id
        if event.event != "session":
            raise ProtocolError(f"the event must be a session invoke, got {event.event!r}")
        message = parse_session_message(event.data)
        if message.type != "invoke":
            raise ProtocolError(f"the session message must be an invoke, got {message.type!r}")
        if isinstance(message.data, dict):
            request_id = str(message.data.get("backwards_request_id") or "")
        invoke = parse_backwards_invoke(message.data)
    except ProtocolError as error:
        log.warning("refused a serverless reverse call: %s", error)
        return refusal(session_id, request_id, f"bad transaction: {error}", 400)
    session = host.registry.session(session_id)
    if session is None or session.runtime.connection.kind != "serverless" or header_session != session_id:
        # Only a serverless plugin's open session, named the same in the header and the event: a TCP or stdio
        # plugin's session belongs to its connection, whoever learnt its id.
        text = f"session {session_id} is not open: {SESSION_CACHE_MISS}"
        log.warning("refused a serverless %s call: %s", invoke.type, text)
        entry = host.journal.start("reverse", invoke.type, "", "", session_id, invoke.request)
        host.journal.finish(entry, answered_by="refused", error=text)
        return refusal(session_id, invoke.backwards_request_id, text, 400)

    async def answers() -> AsyncIterator[bytes]:
        async for data in answer_backwards(host, session, invoke):
            yield transaction_line(host_envelope(session.session_id, "backwards_response", data, session.fields))

    lines_out = with_keepalive(answers(), host.settings.transaction_keepalive)
    return StreamingResponse(lines_out, media_type="text/event-stream")
