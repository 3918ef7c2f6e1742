"""Builds the FastAPI app; its lifespan starts the remote-debug TCP listener beside the HTTP one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from dify_mock.answers.rules.reloading import watch_fixtures
from dify_mock.host import Host
from dify_mock.http import cassettes as cassette_routes
from dify_mock.http import dashboard, dispatch, endpoints, events, files, journal, mock
from dify_mock.http.fast_lane import FastLane
from dify_mock.http.inner_api import router as inner_api_router
from dify_mock.http.live import LiveHub
from dify_mock.http.same_origin import SameOriginGuard
from dify_mock.http.transaction import router as transaction_router
from dify_mock.runtimes.lifecycle import StartedPlugins
from dify_mock.runtimes.tcp import start_debug_server, watch_heartbeats

log = logging.getLogger("dify_mock")


def create_app(host: Host, debug_socket: socket.socket) -> SameOriginGuard:
    """The ASGI app uvicorn serves: the same-origin guard, then the hot routes in the fast lane, then the FastAPI
    app (which declares them too)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        server = await start_debug_server(host, debug_socket)
        watcher = asyncio.create_task(watch_heartbeats(host))
        fixtures = asyncio.create_task(watch_fixtures(host.rules)) if host.settings.watch else None
        started = StartedPlugins(host)
        await started.start()
        try:
            yield
        finally:
            watcher.cancel()
            if fixtures is not None:
                fixtures.cancel()
            await started.stop()
            server.close()
            for runtime in host.registry.runtimes():
                runtime.connection.close("dify-mock is stopping")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
            await host.chain.aclose()
            for line in host.chain.cassettes.recording_report():
                log.info("%s", line)
            for line in host.chain.cassettes.unused_report():
                log.warning("%s", line)

    app = FastAPI(title="dify-mock", version="0.1.0", lifespan=lifespan)
    app.state.host = host
    app.state.live = LiveHub(host)
    app.include_router(dispatch.unguarded)  # first: every plugin call is routed through here
    app.include_router(mock.router)
    app.include_router(mock.guarded)
    app.include_router(dispatch.router)
    app.include_router(inner_api_router)
    app.include_router(transaction_router)
    app.include_router(cassette_routes.router)
    app.include_router(files.router)
    app.include_router(files.guarded)
    app.include_router(endpoints.router)
    app.include_router(endpoints.public)
    app.include_router(journal.router)
    app.include_router(journal.browser)
    app.include_router(events.router)
    app.include_router(dashboard.router)

    @app.exception_handler(dispatch.UnauthorizedError)
    async def unauthorized(request: Request, error: dispatch.UnauthorizedError) -> JSONResponse:
        return dispatch.unauthorized()

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        return dispatch.daemon_error(400, "PluginDaemonBadRequestError", problems)

    return SameOriginGuard(FastLane(app), host.settings)
