"""`GET /mock/events`: server-sent events of everything the mock sees, for the dashboard and `journal --follow`.

A stream opens with a snapshot (`plugins`, then up to `history` recent journal entries as `entry` events, then
`ready`) and goes on live: `plugin` (connected/disconnected), `started`, `chunk`, `finished`. After a `reset` event
a fresh snapshot follows: the client fell behind and its backlog was dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from dify_mock.http.journal import check_key_header_or_query, journal_query
from dify_mock.http.live import LiveHub, Subscriber
from dify_mock.store.journal_sqlite import JournalQuery

PING_SECONDS = 15
SEND_TIMEOUT_SECONDS = 30  # a client that reads nothing for this long is dropped
SHUTDOWN_GRACE_SECONDS = 1

router = APIRouter(dependencies=[Depends(check_key_header_or_query)])


def get_live(request: Request) -> LiveHub:
    live: LiveHub = request.app.state.live
    return live


@router.get("/mock/events", include_in_schema=False, response_model=None)
async def events(
    request: Request,
    query: Annotated[JournalQuery, Depends(journal_query)],
    history: Annotated[int, Query(ge=0, le=10_000, description="recent journal entries sent first")] = 200,
    chunks: Annotated[bool, Query(description="send each streamed chunk as it arrives")] = True,
    full: Annotated[bool, Query(description="whole entries; by default long strings and lists are cut")] = False,
) -> EventSourceResponse | JSONResponse:
    live = get_live(request)
    limit = live.host.settings.max_event_streams
    if len(live.subscribers) >= limit:
        return _busy(limit)
    shutdown = anyio.Event()  # set by sse-starlette when the server stops: the stream then ends cleanly
    return EventSourceResponse(
        _stream(live, replace(query, after_id=None, limit=None), history, chunks, full, shutdown, limit),
        ping=PING_SECONDS,
        send_timeout=SEND_TIMEOUT_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        shutdown_event=shutdown,
        shutdown_grace_period=SHUTDOWN_GRACE_SECONDS,
    )


async def _stream(
    live: LiveHub,
    query: JournalQuery,
    history: int,
    chunks: bool,
    full: bool,
    shutdown: anyio.Event,
    limit: int,
) -> AsyncIterator[ServerSentEvent]:
    # Subscribing here rather than in the route: a stream that never starts then holds nothing.
    subscriber = live.subscribe(query, chunks, full)
    stopper = asyncio.create_task(_stop_on(shutdown, subscriber))
    try:
        if len(live.subscribers) > limit:  # streams that passed the route's check together
            yield ServerSentEvent(data=_busy_text(limit), event="busy")
            return
        while not subscriber.stopped:
            async for event in live.snapshot(subscriber, history):
                yield ServerSentEvent(data=event.data, event=event.name)
            while not subscriber.stopped:
                batch = await subscriber.next()
                if batch is None:
                    yield ServerSentEvent(data="{}", event="reset")
                    break
                for event in batch:
                    yield ServerSentEvent(data=event.data, event=event.name)
    finally:
        stopper.cancel()
        live.unsubscribe(subscriber)


def _busy_text(limit: int) -> str:
    return f"{limit} event streams are open, the most --max-event-streams allows: close one (a dashboard tab)"


def _busy(limit: int) -> JSONResponse:
    return JSONResponse({"error": _busy_text(limit)}, status_code=503, headers={"Retry-After": "5"})


async def _stop_on(shutdown: anyio.Event, subscriber: Subscriber) -> None:
    await shutdown.wait()
    subscriber.stop()


@router.get("/mock/events/subscribers")
async def subscribers(request: Request) -> dict[str, Any]:
    """How many event streams are open (a closed browser tab must not stay counted)."""
    return {"subscribers": len(get_live(request).subscribers)}
