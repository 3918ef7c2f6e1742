"""The start-up reference: a bare Starlette app with one `/health/check` route, served by uvicorn the way dify-mock
serves its app (httptools, no access log, lifespan on). `python -m bench.reference_app --port PORT`."""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/health/check", health)])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reference_app", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False, http="httptools", lifespan="on")


if __name__ == "__main__":
    main()
