"""A streamed HTTP body for answers that end by themselves: a plugin's `end`, the invoke timeout, or a `hang` fault
that sees its caller leave (it asks the request itself)."""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class BoundedStream(Response):
    """Writes each part as it comes. Starlette's StreamingResponse also runs a task group per response to watch for
    the client leaving; an answer that ends by itself does not need one (uvicorn drops writes to a closed
    connection), so this costs one coroutine per response instead. A client that leaves does not cut the answer
    short: the call still runs to its end, and the journal shows it whole."""

    def __init__(
        self,
        parts: AsyncIterable[bytes],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ) -> None:
        self.parts = parts
        self.status_code = status_code
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async for part in self.parts:
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
