"""The dashboard at `/`: plain HTML, CSS and JavaScript shipped in the package, fed by `/mock/events`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from dify_mock.http.dispatch import get_host
from dify_mock.http.journal import check_key_header_or_query

STATIC = Path(__file__).resolve().parent / "static"
FILES = {"app.js": "text/javascript", "style.css": "text/css", "index.html": "text/html"}

router = APIRouter()


@router.get("/", include_in_schema=False, response_model=None)
async def page() -> Response:
    return _file("index.html")


@router.get("/dashboard/{name}", include_in_schema=False, response_model=None)
async def asset(name: str) -> Response:
    return _file(name)


@router.get("/mock/info", dependencies=[Depends(check_key_header_or_query)])
async def info(request: Request) -> dict[str, Any]:
    """What the dashboard shows about the mock itself: ports, keys needed, rules loaded and their warnings."""
    host = get_host(request)
    settings = host.settings
    return {
        "debug_port": settings.debug_port,
        "public_debug_url": settings.public_debug_url,  # REMOTE_INSTALL_URL when the port is published elsewhere
        # REMOTE_INSTALL_URL as the terminal spells it; None on every interface without --public-debug-url, where
        # the browser's own host name is the better guess.
        "remote_install_url": None
        if settings.listens_everywhere and not settings.public_debug_url
        else settings.outside_debug_url,
        "remote_keys_required": bool(settings.keys),
        "server_key_required": bool(settings.server_key),
        "strict": settings.strict,
        "rules": host.rules.counts(),
        "warnings": host.rules.warnings(),
        "journal_max_entries": settings.journal_max_entries,
    }


def _file(name: str) -> Response:
    media_type = FILES.get(name)
    if media_type is None:
        return JSONResponse({"error": f"no dashboard file {name!r}"}, status_code=404)
    return FileResponse(STATIC / name, media_type=media_type, headers={"Cache-Control": "no-cache"})
