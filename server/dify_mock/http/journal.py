"""The journal over HTTP: list with filters, a summary, one entry, clear, and the audio of a TTS entry."""

from __future__ import annotations

import binascii
import hmac
import sqlite3
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response

from dify_mock.http.dispatch import UnauthorizedError, check_api_key, get_host
from dify_mock.store.disk import write_failure
from dify_mock.store.journal_sqlite import JournalQuery

MAX_ID = 2**62

router = APIRouter(dependencies=[Depends(check_api_key)])
browser = APIRouter()  # routes a browser loads by URL: the key may come as ?key= since <audio> cannot set headers


async def check_key_header_or_query(
    request: Request,
    x_api_key: Annotated[str | None, Header()] = None,
    key: Annotated[str | None, Query(description="the server key, for clients that cannot set X-Api-Key")] = None,
) -> None:
    expected = get_host(request).settings.server_key
    given = x_api_key or key or ""
    if expected and not hmac.compare_digest(given.encode(), expected.encode()):
        raise UnauthorizedError()


def journal_query(
    kind: Annotated[str | None, Query(description="dispatch (host to plugin) or reverse (plugin to host)")] = None,
    type: Annotated[str | None, Query(description="invoke type: llm, tts, invoke_tool, ...")] = None,
    tenant_id: str | None = None,
    plugin_id: Annotated[str | None, Query(description="author/name")] = None,
    session_id: str | None = None,
    since: Annotated[float | None, Query(description="started at or after (epoch seconds)")] = None,
    until: Annotated[float | None, Query(description="started before (epoch seconds)")] = None,
    after_id: Annotated[int | None, Query(ge=0, le=MAX_ID, description="only entries with a greater id")] = None,
    limit: Annotated[
        int | None,
        Query(ge=0, le=1_000_000, description="at most this many: the first after after_id, else the newest; 0: all"),
    ] = None,
) -> JournalQuery:
    # 0 means all, as `dify-mock journal --limit 0` does.
    return JournalQuery(kind, type, tenant_id, plugin_id, session_id, since, until, after_id, limit or None)


@router.get("/mock/journal", response_model=None)
async def list_entries(request: Request, query: Annotated[JournalQuery, Depends(journal_query)]) -> Response:
    """Journal entries, oldest first; finished ones come from the journal file, running ones have done=false."""
    texts = await get_host(request).journal.query(query)
    body = '{"entries":[' + ",".join(texts) + "]}"
    return Response(body.encode(), media_type="application/json")


@router.get("/mock/journal/summary", response_model=None)
async def summary(request: Request, query: Annotated[JournalQuery, Depends(journal_query)]) -> dict[str, Any]:
    """Counts of the matching entries (`limit` aside): per kind and type, failed, running, and who answered each
    reverse call, with a count per fixture rule under `rules`."""
    return await get_host(request).journal.summary(query)


@router.get("/mock/journal/{entry_id}", response_model=None)
async def one_entry(request: Request, entry_id: Annotated[int, PathParam(ge=0, le=MAX_ID)]) -> JSONResponse:
    entry = await get_host(request).journal.get(entry_id)
    if entry is None:
        return JSONResponse({"error": f"no journal entry {entry_id}"}, status_code=404)
    return JSONResponse(entry)


@router.delete("/mock/journal", response_model=None)
async def clear(request: Request) -> dict[str, Any] | JSONResponse:
    host = get_host(request)
    try:
        await host.journal.clear()
    except sqlite3.Error as error:
        problem = write_failure(error, host.settings.data_dir)
        return JSONResponse({"error": f"the journal was not cleared: {problem} (SQLite: {error})"}, status_code=507)
    return {"cleared": True}


@browser.get("/mock/journal/{entry_id}/audio", dependencies=[Depends(check_key_header_or_query)], response_model=None)
async def entry_audio(request: Request, entry_id: Annotated[int, PathParam(ge=0, le=MAX_ID)]) -> Response:
    """The audio of a TTS call (reverse `tts` or dispatched `invoke_tts`): its hex chunks, joined, as MP3."""
    entry = await get_host(request).journal.get(entry_id)
    if entry is None:
        return JSONResponse({"error": f"no journal entry {entry_id}"}, status_code=404)
    audio = tts_audio(entry)
    if audio is None:
        return JSONResponse({"error": f"journal entry {entry_id} ({entry['type']}) holds no audio"}, status_code=404)
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": "sandbox; default-src 'none'"}
    return Response(audio, media_type="audio/mpeg", headers=headers)


def tts_audio(entry: dict[str, Any]) -> bytes | None:
    """The bytes of every `{"result": "<hex>"}` chunk of an entry, in order; None when it has none."""
    pieces: list[bytes] = []
    for chunk in entry.get("response") or []:
        hex_audio = chunk.get("result") if isinstance(chunk, dict) else None
        if not isinstance(hex_audio, str):
            continue
        try:
            pieces.append(binascii.unhexlify(hex_audio))
        except (binascii.Error, ValueError):
            return None
    return b"".join(pieces) if pieces else None
