"""Cassettes over HTTP: what was replayed and recorded (unused entries included), and naming a test's cassette."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from dify_mock.http.dispatch import check_api_key, get_host

router = APIRouter(dependencies=[Depends(check_api_key)])


class CassetteChoice(BaseModel):
    name: str = Field(description="The test's name; it becomes the cassette's file name (unsafe characters -> _).")


@router.get("/mock/cassettes")
async def cassettes(request: Request) -> dict[str, Any]:
    """Where cassettes are recorded and replayed from, and per cassette the entries no call used."""
    return get_host(request).chain.cassettes.report()


@router.put("/mock/cassette", response_model=None)
async def use_cassette(request: Request, choice: CassetteChoice) -> JSONResponse:
    """From now on, calls replay from and record into the cassette of this name (one per test)."""
    try:
        name = get_host(request).chain.cassettes.use(choice.name)
    except ValueError as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    return JSONResponse({"cassette": name})
