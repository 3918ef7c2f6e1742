"""The daemon's plugin API, as the Dify API calls it: `/plugin/{tenant_id}/dispatch/...` and management."""

from __future__ import annotations

import hmac
import weakref
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response

from dify_mock.host import Host
from dify_mock.http.dispatch_requests import STRUCTS, as_decoded, data_error, decodes_as_json
from dify_mock.http.streaming import BoundedStream
from dify_mock.plugins.registry import PluginRuntime
from dify_mock.protocol.framing import sse_event
from dify_mock.protocol.messages import ENVELOPE_KEYS, dumps
from dify_mock.runtimes.drive import InvokeTimeout, PluginInvokeError, invoke_plugin
from dify_mock.store.redaction import remember_secret

# route -> (access type, action, fields `data` must have)
DISPATCH_ROUTES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "tool/invoke": ("tool", "invoke_tool", ("provider", "tool")),
    "tool/validate_credentials": ("tool", "validate_tool_credentials", ("provider",)),
    "tool/get_runtime_parameters": ("tool", "get_tool_runtime_parameters", ("provider", "tool")),
    "llm/invoke": ("model", "invoke_llm", ("provider", "model_type", "model")),
    "llm/num_tokens": ("model", "get_llm_num_tokens", ("provider", "model_type", "model")),
    "text_embedding/invoke": ("model", "invoke_text_embedding", ("provider", "model_type", "model")),
    "text_embedding/num_tokens": (
        "model",
        "get_text_embedding_num_tokens",
        ("provider", "model_type", "model"),
    ),
    "multimodal_embedding/invoke": (
        "model",
        "invoke_multimodal_embedding",
        ("provider", "model_type", "model"),
    ),
    "rerank/invoke": ("model", "invoke_rerank", ("provider", "model_type", "model")),
    "multimodal_rerank/invoke": ("model", "invoke_multimodal_rerank", ("provider", "model_type", "model")),
    "tts/invoke": ("model", "invoke_tts", ("provider", "model_type", "model")),
    "tts/model/voices": ("model", "get_tts_model_voices", ("provider", "model_type", "model")),
    "speech2text/invoke": ("model", "invoke_speech2text", ("provider", "model_type", "model")),
    "moderation/invoke": ("model", "invoke_moderation", ("provider", "model_type", "model")),
    "model/validate_provider_credentials": ("model", "validate_provider_credentials", ("provider",)),
    "model/validate_model_credentials": (
        "model",
        "validate_model_credentials",
        ("provider", "model_type", "model"),
    ),
    "model/schema": ("model", "get_ai_model_schemas", ("provider", "model_type", "model")),
    "model/polling/start": ("model", "start_polling", ("provider", "model_type", "model")),
    "model/polling/check": ("model", "check_polling", ("provider", "model_type", "model")),
    "agent_strategy/invoke": (
        "agent_strategy",
        "invoke_agent_strategy",
        ("agent_strategy_provider", "agent_strategy"),
    ),
    "oauth/get_authorization_url": ("oauth", "get_authorization_url", ("provider",)),
    "oauth/get_credentials": ("oauth", "get_credentials", ("provider",)),
    "oauth/refresh_credentials": ("oauth", "refresh_credentials", ("provider",)),
    "dynamic_select/fetch_parameter_options": ("dynamic_parameter", "fetch_parameter_options", ("provider",)),
    "datasource/validate_credentials": ("datasource", "validate_datasource_credentials", ("provider",)),
    "datasource/get_website_crawl": (
        "datasource",
        "invoke_website_datasource_get_crawl",
        ("provider", "datasource"),
    ),
    "datasource/get_online_document_pages": (
        "datasource",
        "invoke_online_document_datasource_get_pages",
        ("provider", "datasource"),
    ),
    "datasource/get_online_document_page_content": (
        "datasource",
        "invoke_online_document_datasource_get_page_content",
        ("provider", "datasource"),
    ),
    "datasource/online_drive_browse_files": (
        "datasource",
        "invoke_online_drive_browse_files",
        ("provider", "datasource"),
    ),
    "datasource/online_drive_download_file": (
        "datasource",
        "invoke_online_drive_download_file",
        ("provider", "datasource"),
    ),
    "trigger/invoke_event": ("trigger", "invoke_trigger_event", ("provider", "event")),
    "trigger/validate_credentials": ("trigger", "validate_trigger_credentials", ("provider",)),
    "trigger/dispatch_event": ("trigger", "dispatch_trigger_event", ("provider",)),
    "trigger/subscribe": ("trigger", "subscribe_trigger", ("provider",)),
    "trigger/unsubscribe": ("trigger", "unsubscribe_trigger", ("provider",)),
    "trigger/refresh": ("trigger", "refresh_trigger", ("provider",)),
}
# What Dify always sends and a hand-written request (curl, a test) may leave out. `credentials` is the exception:
# the daemon passes a missing map on as null (its struct's zero value), and the plugin's SDK refuses it.
DATA_DEFAULTS: dict[str, dict[str, Any]] = {
    "tool": {"credentials": None, "credential_type": "api-key", "tool_parameters": {}},
    "model": {"credentials": None},
    "agent_strategy": {"agent_strategy_params": {}},
    "datasource": {"credentials": None, "datasource_parameters": {}},
    "trigger": {"credentials": None},
    "oauth": {"system_credentials": {}},
    "dynamic_parameter": {"credentials": None},
}
# Per route, fields the SDK requires (null allowed) that Dify always sends.
ROUTE_DEFAULTS: dict[str, dict[str, Any]] = {
    "llm/invoke": {"model_parameters": {}, "stop": None, "tools": None},
    "model/polling/start": {"model_parameters": {}, "stop": None, "tools": None},
    "llm/num_tokens": {"tools": None},
    "text_embedding/invoke": {"input_type": "document"},
    "rerank/invoke": {"score_threshold": None, "top_n": None},
    "multimodal_rerank/invoke": {"score_threshold": None, "top_n": None},
    "tts/model/voices": {"language": None},
    "trigger/invoke_event": {"parameters": {}, "credential_type": "api-key"},
    "trigger/dispatch_event": {"credentials": None, "credential_type": None},
    "trigger/subscribe": {"parameters": {}, "credential_type": "api-key"},
    "trigger/unsubscribe": {"credential_type": "api-key"},
    "trigger/refresh": {"credential_type": "api-key"},
}
PLAIN_JSON_ROUTES = frozenset({"model/polling/start", "model/polling/check"})


# The daemon (gin's c.JSON) names the charset on JSON answers and none on its event streams.
JSON_MEDIA_TYPE = "application/json; charset=utf-8"
SSE_HEADERS = {"content-type": "text/event-stream"}


def daemon_error(status: int, error_type: str, message: str) -> JSONResponse:
    """The daemon's error envelope: `message` is itself JSON."""
    inner = dumps({"message": message, "error_type": error_type, "args": None})
    return JSONResponse(
        {"code": -status, "message": inner, "data": None}, status_code=status, media_type=JSON_MEDIA_TYPE
    )


def route_not_found(route: str) -> JSONResponse:
    """gin's NoRoute answer in the daemon, before any key or plugin is looked at; our hint after its message."""
    message = f"route not found; dify-mock serves no dispatch route {route!r}"
    return JSONResponse({"code": "not_found", "message": message}, status_code=404, media_type=JSON_MEDIA_TYPE)


def error_event(error_type: str, message: str) -> dict[str, Any]:
    return {
        "code": -500,
        "message": dumps({"message": message, "error_type": error_type, "args": None}),
        "data": None,
    }


def plugin_error_event(error: dict[str, Any]) -> dict[str, Any]:
    """A plugin's own error, nested the way the Dify API unpacks it (PluginInvokeError -> the plugin's error)."""
    return error_event("PluginInvokeError", dumps(error))


_secret_inputs: weakref.WeakKeyDictionary[PluginRuntime, frozenset[str]] = weakref.WeakKeyDictionary()


def secret_input_names(runtime: PluginRuntime) -> frozenset[str]:
    """The names of every parameter or setting the plugin declares as `secret-input`, found once per runtime."""
    names = _secret_inputs.get(runtime)
    if names is None:
        found: set[str] = set()
        pending: list[Any] = [runtime.declarations]
        while pending:
            node = pending.pop()
            if isinstance(node, dict):
                if node.get("type") == "secret-input" and isinstance(node.get("name"), str):
                    found.add(node["name"])
                pending += node.values()
            elif isinstance(node, list):
                pending += node
        names = _secret_inputs[runtime] = frozenset(found)
    return names


def remember_secret_inputs(runtime: PluginRuntime, data: dict[str, Any]) -> None:
    """Values given to a secret-input parameter (`tool_parameters`, `parameters`...) are masked wherever they show."""
    names = secret_input_names(runtime)
    if names:
        for value in data.values():
            if isinstance(value, dict):
                for name in names & value.keys():
                    remember_secret(value[name])


def get_host(request: Request) -> Host:
    host: Host = request.app.state.host
    return host


async def check_api_key(request: Request, x_api_key: str | None = Header(default=None)) -> None:
    expected = get_host(request).settings.server_key
    if expected and not hmac.compare_digest((x_api_key or "").encode(), expected.encode()):
        raise UnauthorizedError()


# Dispatch reads its parameters itself: FastAPI's parameter and dependency solving is about half of its cost per
# request, and every plugin call goes through here. The OpenAPI document still names them.
DISPATCH_PARAMETERS = [
    {"name": "tenant_id", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "route", "in": "path", "required": True, "schema": {"type": "string", "enum": list(DISPATCH_ROUTES)}},
    {"name": "X-Plugin-ID", "in": "header", "required": True, "schema": {"type": "string"}},
    {"name": "X-Api-Key", "in": "header", "required": False, "schema": {"type": "string"}},
]


class UnauthorizedError(Exception):
    pass


def unauthorized() -> JSONResponse:
    """What a request without the right X-Api-Key gets, on every route that asks for one."""
    return daemon_error(401, "PluginDaemonUnauthorizedError", "unauthorized")


router = APIRouter(dependencies=[Depends(check_api_key)])
unguarded = APIRouter()  # its routes check the key themselves


@unguarded.post(
    "/plugin/{tenant_id}/dispatch/{route:path}", response_model=None, openapi_extra={"parameters": DISPATCH_PARAMETERS}
)
async def dispatch(request: Request) -> Response:
    tenant_id: str = request.path_params["tenant_id"]
    route: str = request.path_params["route"]
    target = DISPATCH_ROUTES.get(route)
    if target is None:
        return route_not_found(route)
    await check_api_key(request, request.headers.get("x-api-key"))
    x_plugin_id = request.headers.get("x-plugin-id")
    host = get_host(request)
    # The daemon's order: the plugin id, then its installation, then the body.
    if not x_plugin_id:
        return daemon_error(
            400, "PluginDaemonBadRequestError", "plugin_id is required; send the plugin's author/name as X-Plugin-ID"
        )
    runtime = host.registry.get(tenant_id, x_plugin_id)
    if runtime is None:
        connected = ", ".join(rt.plugin_id for rt in host.registry.runtimes(tenant_id)) or "none"
        return daemon_error(
            404,
            "PluginNotFoundError",
            f"plugin not found; plugin {x_plugin_id} is not connected for tenant {tenant_id} (connected: {connected})",
        )
    try:
        body = orjson.loads(await _body(request)) if decodes_as_json(request.headers.get("content-type")) else None
    except ValueError as error:
        body, not_json = None, str(error)
    else:
        not_json = "the Content-Type is not application/json"
    data = body.get("data") if isinstance(body, dict) else None
    refused = data_error(route, data if isinstance(data, dict) else {})
    if refused is not None:
        return daemon_error(400, "PluginDaemonBadRequestError", refused)
    if body is None:
        return daemon_error(400, "PluginDaemonBadRequestError", f"the body is not valid JSON: {not_json}")
    if not isinstance(data, dict):
        return daemon_error(400, "PluginDaemonBadRequestError", "the body must be an object with a 'data' object")
    access_type, action, required = target
    missing = [name for name in required if name not in data]
    if missing:
        return daemon_error(400, "PluginDaemonBadRequestError", f"data is missing {', '.join(missing)} for {route}")
    if route in STRUCTS:
        data = {**ROUTE_DEFAULTS.get(route, {}), **as_decoded(route, data)}
    else:
        data = {**DATA_DEFAULTS.get(access_type, {}), **ROUTE_DEFAULTS.get(route, {}), **data}
    remember_secret_inputs(runtime, data)
    user_id = str(body.get("user_id") or "")
    fields = {key: body.get(key) for key in ENVELOPE_KEYS}
    chunks = invoke_plugin(host, tenant_id, x_plugin_id, access_type, action, data, user_id, fields)
    if route in PLAIN_JSON_ROUTES:
        return await _first_as_json(chunks)
    events = _events(chunks)
    # Headers wait for the first event: the plugin is already working on the request while they are written and
    # the client parses them, and a client that only gets a header cannot compete with the plugin for the CPU.
    first = await anext(events, None)
    return BoundedStream(_after(first, events), headers=SSE_HEADERS)


async def _body(request: Request) -> bytearray:
    """The body, read without `request.body()`: that keeps the bytes as long as the request, which is the whole
    call, so a large request would be held twice (its bytes and its parsed JSON) until the plugin is done."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
    return body


async def _after(first: bytes | None, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first is None:
        return
    yield first
    async for event in rest:
        yield event


async def _events(chunks: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield sse_event({"code": 0, "message": "success", "data": chunk})
    except PluginInvokeError as failure:
        yield sse_event(plugin_error_event(failure.error))
    except InvokeTimeout as failure:
        yield sse_event(error_event("PluginDaemonInternalServerError", str(failure)))
    except ConnectionError as failure:
        yield sse_event(error_event("PluginDaemonInternalServerError", f"failed to write to the plugin: {failure}"))


async def _first_as_json(chunks: AsyncIterator[Any]) -> JSONResponse:
    result: Any = None
    try:
        async for chunk in chunks:
            if result is None:
                result = chunk
    except PluginInvokeError as failure:
        return JSONResponse(plugin_error_event(failure.error), status_code=500, media_type=JSON_MEDIA_TYPE)
    except (InvokeTimeout, ConnectionError) as failure:
        failed = error_event("PluginDaemonInternalServerError", str(failure))
        return JSONResponse(failed, status_code=500, media_type=JSON_MEDIA_TYPE)
    return JSONResponse({"code": 0, "message": "success", "data": result}, media_type=JSON_MEDIA_TYPE)


@router.get("/plugin/{tenant_id}/management/list")
async def list_plugins(tenant_id: str, request: Request) -> dict[str, Any]:
    runtimes = get_host(request).registry.runtimes(tenant_id)
    return {"code": 0, "message": "success", "data": [runtime.describe() for runtime in runtimes]}
