"""The inner_api section's reference: a bare Starlette app that answers `POST /inner/api/invoke/llm` with the frames
of one response captured from dify-mock, byte for byte and one frame per write as the mock sends them, served by
uvicorn with the mock's own options (server.py: uvloop, httptools, no access log, no proxy headers).

`python -m bench.inner_api_reference --port PORT --body CAPTURED_BODY_FILE --key INNER_API_KEY`
"""

from __future__ import annotations

import argparse
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
import uvloop
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route


def split_frames(body: bytes) -> list[bytes]:
    """The length-prefixed frames of a body, each with its 14-byte prefix (the data length is at offset 4)."""
    frames = []
    offset = 0
    while offset < len(body):
        (length,) = struct.unpack_from("<I", body, offset + 4)
        frames.append(body[offset : offset + 14 + length])
        offset += 14 + length
    return frames


def create_app(frames: list[bytes], key: str) -> Starlette:
    async def invoke_llm(request: Request) -> Response:
        if request.headers.get("x-inner-api-key") != key:
            return PlainTextResponse("not found", status_code=404)
        json.loads(await request.body())

        async def body() -> AsyncIterator[bytes]:
            for frame in frames:
                yield frame

        return StreamingResponse(body(), media_type="text/event-stream")

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route("/inner/api/invoke/llm", invoke_llm, methods=["POST"]), Route("/health/check", health)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inner_api_reference", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True, help="a captured length-prefixed response body")
    parser.add_argument("--key", required=True, help="the X-Inner-Api-Key to accept")
    arguments = parser.parse_args()
    app = create_app(split_frames(arguments.body.read_bytes()), arguments.key)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=arguments.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        lifespan="on",
        http="httptools",
        timeout_graceful_shutdown=3,
    )
    uvloop.run(uvicorn.Server(config).serve())


if __name__ == "__main__":
    main()
