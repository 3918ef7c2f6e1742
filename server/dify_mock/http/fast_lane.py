"""The hot routes, served without FastAPI's routing and middleware: dispatch (every call to a plugin) and the inner
API (every reverse call a daemon forwards).

FastAPI tries each route in turn, then runs four middleware layers and a dependency solver around the handler,
and wraps every `send` of a stream in each of them: about a tenth of the CPU an inner-API stream costs. Here one
prefix test picks the handler and calls it as FastAPI would. It is the very function the FastAPI route declares,
so the OpenAPI document still describes these routes, from the same code; every other request, and the lifespan,
goes to the FastAPI app.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from dify_mock.http import dispatch, inner_api
from dify_mock.http.limits import BodyRefused, bounded

log = logging.getLogger("dify_mock.http")

Handler = Callable[[Request], Awaitable[Response]]
PLUGIN_PREFIX = "/plugin/"
DISPATCH_INFIX = "/dispatch/"
INNER_API_PREFIX = "/inner/api/"


class FastLane:
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            settings = self.app.state.host.settings
            await bounded(
                self.http, scope, receive, send, settings.max_request_body_bytes, settings.request_read_timeout
            )
        else:
            await self.app(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "POST":
            handler = self.route(scope)
            if handler is not None:
                await self.serve(handler, scope, receive, send)
                return
        await self.app(scope, receive, send)

    def route(self, scope: Scope) -> Handler | None:
        """The handler for this path, with the path parameters its FastAPI route would give it set in `scope`."""
        path: str = scope["path"]
        if path.startswith(INNER_API_PREFIX):
            scope["path_params"] = {"route": path.removeprefix(INNER_API_PREFIX)}
            return _inner_api
        if path.startswith(PLUGIN_PREFIX):
            tenant_id, infix, route = path.removeprefix(PLUGIN_PREFIX).partition(DISPATCH_INFIX)
            if infix and tenant_id and "/" not in tenant_id:  # /plugin/{tenant_id}/dispatch/{route:path}
                scope["path_params"] = {"tenant_id": tenant_id, "route": route}
                return dispatch.dispatch
        return None

    async def serve(self, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self.app  # what handlers read the host from, as under FastAPI
        try:
            response = await handler(Request(scope, receive))
        except dispatch.UnauthorizedError:
            response = dispatch.unauthorized()
        except BodyRefused:
            raise
        except Exception:
            log.exception("%s %s failed inside dify-mock", scope["method"], scope["path"])
            response = PlainTextResponse("Internal Server Error", status_code=500)
        await response(scope, receive, send)


async def _inner_api(request: Request) -> Response:
    return await inner_api.inner_api(request.path_params["route"], request)
