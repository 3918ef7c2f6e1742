"""The dispatch reference: the least an HTTP face over the tuned reference host can cost.

One raw ASGI app on uvicorn, served the way dify-mock serves its app (httptools, uvloop when installed, no access
log). `POST /plugin/{tenant}/dispatch/tool/invoke` sends the tool call to the plugin over the tuned reference
host's socket (`hosts.ReferenceHost`) and streams each chunk back as it arrives, in the event-stream bytes dify-mock
writes: `data: {"code":0,"message":"success","data":<chunk>}`, a blank line. Nothing else: no routing table, no
journal, no rules, no validation beyond what JSON decoding does.

`python -m bench.http_bridge --port PORT --debug-port PORT --key KEY [--stream-chunks N]`
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from typing import Any

import uvicorn

from bench.hosts import ReferenceHost

Scope = dict[str, Any]
Message = dict[str, Any]
DISPATCH_SUFFIX = "/dispatch/tool/invoke"
SSE_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8")]
END = object()


def sse(value: Any) -> bytes:
    return b"data: " + json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


class Bridge:
    def __init__(self, debug_port: int, key: str, stream_chunks: int) -> None:
        self.debug_port = debug_port
        self.key = key
        self.stream_chunks = stream_chunks
        self.host: ReferenceHost | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            await self.http(scope, receive, send)

    async def lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.host = ReferenceHost(tuned=True, key=self.key, stream_chunks=self.stream_chunks)
                await self.host.start(self.debug_port)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.host is not None:
                    await self.host.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def http(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["path"] == "/health/check":
            ready = self.host is not None and self.host.plugin_id.done()
            await respond(send, 200 if ready else 503, b'{"status":"ok"}' if ready else b'{"status":"waiting"}')
            return
        if scope["method"] != "POST" or not scope["path"].endswith(DISPATCH_SUFFIX) or self.host is None:
            await respond(send, 404, b'{"error":"not found"}')
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        data = json.loads(body)["data"]
        chunks: asyncio.Queue[Any] = asyncio.Queue()
        call = asyncio.ensure_future(
            self.host._invoke_tool(
                str(uuid.uuid4()), data["provider"], data["tool"], data["tool_parameters"], chunks.put_nowait
            )
        )
        call.add_done_callback(lambda _: chunks.put_nowait(END))
        started = False
        while (chunk := await chunks.get()) is not END:
            if not started:
                await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
                started = True
            await send({"type": "http.response.body", "body": sse(chunk_event(chunk)), "more_body": True})
        _, done = call.result()
        if not started:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        if done.error is not None:
            await send(
                {"type": "http.response.body", "body": sse({"code": -500, "data": done.error}), "more_body": True}
            )
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def chunk_event(chunk: Any) -> dict[str, Any]:
    return {"code": 0, "message": "success", "data": chunk}


async def respond(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.http_bridge", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--debug-port", type=int, required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--stream-chunks", type=int, default=25)
    arguments = parser.parse_args()
    bridge = Bridge(arguments.debug_port, arguments.key, arguments.stream_chunks)
    uvicorn.run(
        bridge,
        host="127.0.0.1",
        port=arguments.port,
        log_config=None,
        access_log=False,
        http="httptools",
        loop="auto",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
