"""The mock's own API: health, journal, fixture schema."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from dify_mock.answers.rules import fixture_json_schema
from dify_mock.http.dispatch import check_api_key, get_host

router = APIRouter()
guarded = APIRouter(dependencies=[Depends(check_api_key)])


@router.get("/health/check")
async def health() -> dict[str, Any]:
    return {"status": "ok"}


@guarded.get("/mock/journal")
async def journal(
    request: Request, kind: str | None = None, type: str | None = None, plugin_id: str | None = None
) -> dict[str, Any]:
    entries = get_host(request).journal.entries(kind=kind, type=type, plugin_id=plugin_id)
    return {"entries": [entry.to_json() for entry in entries]}


@guarded.delete("/mock/journal")
async def clear_journal(request: Request) -> dict[str, Any]:
    get_host(request).journal.clear()
    return {"cleared": True}


@router.get("/mock/fixtures/schema")
async def fixtures_schema() -> dict[str, Any]:
    return fixture_json_schema()
