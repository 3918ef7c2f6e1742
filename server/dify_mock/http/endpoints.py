"""Plugin endpoints: real HTTP requests to `/e/{hook_id}/...`, and the daemon's routes that manage the hooks.

`/e/...` needs no key, as in the daemon; `/plugin/{tenant_id}/endpoint/...` needs the server key like every
plugin route and answers the `{code, message, data}` envelope (HTTP 200 even for a refusal, as the daemon does).
"""

from __future__ import annotations

import binascii
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from dify_mock.host import Host
from dify_mock.http.dispatch import check_api_key, daemon_error, get_host
from dify_mock.protocol.messages import dumps
from dify_mock.protocol.raw_http import MAX_BODY_BYTES, endpoint_request
from dify_mock.runtimes.drive import InvokeTimeout, PluginInvokeError, invoke_plugin
from dify_mock.store.hooks import (
    Hook,
    HookStore,
    HookWriteError,
    endpoint_declaration,
    mask_settings,
    secret_setting_names,
    validate_settings,
)
from dify_mock.store.redaction import redact

log = logging.getLogger("dify_mock.store.hooks")

ROUTED_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS")
# Accepted by the route only to answer them as the daemon does: not found.
UNROUTED_METHODS = ("PATCH", "TRACE", "CONNECT", "PROPFIND")
# Framing is the server's business, not the plugin's.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"})
MAX_JOURNALED_BODY = 64 * 1024

public = APIRouter()
router = APIRouter(dependencies=[Depends(check_api_key)])


def envelope(data: Any) -> dict[str, Any]:
    return {"code": 0, "message": "success", "data": data}


def refusal(code: int, error_type: str, message: str) -> JSONResponse:
    """A management refusal: HTTP 200 with the error in the envelope, as the daemon's services answer."""
    inner = dumps({"message": message, "error_type": error_type, "args": None})
    return JSONResponse({"code": code, "message": inner, "data": None})


# ---------------------------------------------------------------------------------------------------------------
# /e/{hook_id}/{path}
# ---------------------------------------------------------------------------------------------------------------


@public.api_route("/e/{hook_id}", methods=[*ROUTED_METHODS, *UNROUTED_METHODS], include_in_schema=False)
@public.api_route("/e/{hook_id}/{path:path}", methods=[*ROUTED_METHODS, *UNROUTED_METHODS])
async def call_endpoint(hook_id: str, request: Request, path: str = "") -> Response:
    """Sends the request to the plugin behind the hook and streams its answer back as it comes."""
    if request.method not in ROUTED_METHODS:
        return PlainTextResponse(
            f"404 page not found: the daemon routes {', '.join(ROUTED_METHODS)} to endpoints, not {request.method}",
            status_code=404,
        )
    host = get_host(request)
    hook = host.hooks.by_hook_id(hook_id)
    if hook is None:
        return daemon_error(404, "PluginDaemonBadRequestError", f"endpoint not found: no hook {hook_id!r}")
    if not hook.enabled:
        return daemon_error(
            404,
            "PluginDaemonNotFoundError",
            f"endpoint not found: hook {hook_id} is disabled (enable it with POST /plugin/{hook.tenant_id}/endpoint/enable)",
        )
    runtime = host.registry.get(hook.tenant_id, hook.plugin_id)
    if runtime is None:
        return daemon_error(
            404,
            "PluginNotFoundError",
            f"plugin not found: {hook.plugin_id} is not connected for tenant {hook.tenant_id}",
        )
    if endpoint_declaration(runtime.declarations) is None:
        return daemon_error(404, "PluginNotFoundError", f"plugin not found: {hook.plugin_id} declares no endpoints")
    body = await _read_body(request, hook)
    raw = endpoint_request(
        request.method,
        "/" + path,
        request.scope.get("query_string", b""),
        request.scope["headers"],
        body,
        hook.hook_id,
    )
    if hook.lost_secrets:
        log.warning(
            "hook %s: the secret settings %s were not kept across the restart; set them again with "
            "POST /plugin/%s/endpoint/update",
            hook.hook_id,
            ", ".join(hook.lost_secrets),
            hook.tenant_id,
        )
    data = {"raw_http_request": raw.hex(), "settings": hook.settings}
    chunks = invoke_plugin(
        host,
        hook.tenant_id,
        hook.plugin_id,
        "endpoint",
        "invoke_endpoint",
        data,
        "",
        {"endpoint_id": hook.id},
        journal_request=_journal_request(request, path, body, hook, runtime.declarations),
    )
    return await _respond(chunks, request.method == "HEAD", _underscored(request))


def _underscored(request: Request) -> list[str]:
    """Header names the SDK refuses ("Invalid HTTP header"): it rejects every name with an underscore."""
    return [name.decode("latin-1") for name, _ in request.scope["headers"] if b"_" in name]


async def _read_body(request: Request, hook: Hook) -> bytes:
    """The body up to the daemon's 10 MB; the rest is read and dropped, as the daemon drops it."""
    kept = bytearray()
    dropped = 0
    async for piece in request.stream():
        room = MAX_BODY_BYTES - len(kept)
        kept += piece[:room]
        dropped += max(0, len(piece) - room)
    if dropped:
        log.warning(
            "hook %s: the request body was cut at 10 MB as the daemon cuts it (%d bytes dropped)", hook.hook_id, dropped
        )
    return bytes(kept)


def _journal_request(
    request: Request, path: str, body: bytes, hook: Hook, declarations: dict[str, Any]
) -> dict[str, Any]:
    """What the journal shows of the call: the request readable, credentials and secret settings masked."""
    declaration = endpoint_declaration(declarations) or {}
    secrets = secret_setting_names(declaration.get("settings") or []) | set(hook.secret_names)
    text = body[:MAX_JOURNALED_BODY].decode("utf-8", errors="replace")
    return {
        "hook_id": hook.hook_id,
        "endpoint_id": hook.id,
        "method": request.method,
        "path": "/" + path,
        "query": request.scope.get("query_string", b"").decode("latin-1"),
        "headers": redact({name: value for name, value in request.headers.items()}),
        "body": text + ("…" if len(body) > MAX_JOURNALED_BODY else ""),
        "settings": mask_settings(hook.settings, secrets),
    }


async def _respond(chunks: AsyncGenerator[Any, None], head_only: bool, underscored: list[str]) -> Response:
    """The daemon's reading: status and headers until the first chunk with a body, then the body as it comes."""
    status: int | None = None
    headers: dict[str, str] = {}
    first: bytes | None = None
    try:
        async for chunk in chunks:
            if not isinstance(chunk, dict):
                raise ValueError(f"the plugin sent an endpoint chunk that is not an object: {chunk!r:.200}")
            if chunk.get("status") is not None:
                if not isinstance(chunk["status"], int) or not 100 <= chunk["status"] <= 599:
                    raise ValueError(f"the plugin sent an invalid status {chunk['status']!r}")
                status = chunk["status"]
            for name, value in (chunk.get("headers") or {}).items():
                if str(name).lower() not in HOP_BY_HOP:
                    headers.setdefault(str(name), str(value))
            if chunk.get("result") is not None:
                first = _unhex(chunk["result"])
                break
    except PluginInvokeError as failure:
        error = _sorted_error(failure.error)
        if underscored and "Invalid HTTP header" in str(error["message"]):
            error["message"] = (
                f"{error['message']}: the plugin SDK refuses header names that contain '_' "
                f"(this request sent {', '.join(underscored)}); use '-' instead"
            )
        return _internal_error(dumps(error))
    except InvokeTimeout:
        return _internal_error("killed by timeout")
    except (ConnectionError, ValueError) as failure:
        await chunks.aclose()
        return _internal_error(str(failure))
    if status is None or status < 200:
        # The daemon would write status 100 (informational), after which Go's server answers 200.
        log.warning("the endpoint answered without a status; the client gets 200 as from the daemon")
        status = 200
    if first is None:
        return Response(status_code=status, headers=headers)
    if head_only:
        await _drain(chunks)
        return Response(status_code=status, headers=headers)
    return StreamingResponse(_body(first, chunks), status_code=status, headers=headers)


async def _body(first: bytes, chunks: AsyncGenerator[Any, None]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for chunk in chunks:
            result = chunk.get("result") if isinstance(chunk, dict) else None
            if result:
                yield _unhex(result)
    except PluginInvokeError as failure:
        # Once the body has begun, the daemon writes the error text into it.
        yield dumps(_sorted_error(failure.error)).encode()
    except (InvokeTimeout, ConnectionError, ValueError) as failure:
        yield str(failure).encode()
    finally:
        await chunks.aclose()  # the client went away: the session ends now, not when collected


async def _drain(chunks: AsyncGenerator[Any, None]) -> None:
    try:
        async for _ in chunks:
            pass
    except (PluginInvokeError, InvokeTimeout, ConnectionError):
        pass


def _unhex(value: Any) -> bytes:
    try:
        return binascii.unhexlify(str(value))
    except (binascii.Error, ValueError):
        raise ValueError(f"the plugin sent an endpoint body that is not hex: {str(value)[:80]!r}") from None


def _sorted_error(error: dict[str, Any]) -> dict[str, Any]:
    """The plugin's error as the daemon re-marshals it (a Go map: keys sorted)."""
    return {"args": error.get("args"), "error_type": error.get("error_type"), "message": error.get("message")}


def _internal_error(message: str) -> JSONResponse:
    return daemon_error(500, "PluginDaemonInternalServerError", message)


# ---------------------------------------------------------------------------------------------------------------
# /plugin/{tenant_id}/endpoint/...
# ---------------------------------------------------------------------------------------------------------------


async def _json_body(request: Request) -> dict[str, Any] | JSONResponse:
    try:
        body = await request.json()
    except ValueError as error:
        return daemon_error(400, "PluginDaemonBadRequestError", f"the body is not valid JSON: {error}")
    if not isinstance(body, dict):
        return daemon_error(400, "PluginDaemonBadRequestError", "the body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, kind: type, required: bool = True) -> Any:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (kind is str and not value):
        raise BadField(f"{name!r} must be {'a non-empty string' if kind is str else 'an object'}")
    return value


class BadField(ValueError):
    pass


@router.post("/plugin/{tenant_id}/endpoint/setup", response_model=None)
async def setup_endpoint(tenant_id: str, request: Request) -> JSONResponse | dict[str, Any]:
    """Body: plugin_unique_identifier (author/name[:version@checksum]), name, settings, user_id."""
    body = await _json_body(request)
    if isinstance(body, JSONResponse):
        return body
    try:
        identifier = _field(body, "plugin_unique_identifier", str)
        name = _field(body, "name", str, required=False) or "default"
        settings = _field(body, "settings", dict, required=False) or {}
        user_id = _field(body, "user_id", str, required=False) or ""
    except BadField as error:
        return daemon_error(400, "PluginDaemonBadRequestError", str(error))
    host = get_host(request)
    plugin_id = identifier.split(":", 1)[0]
    outcome = check_setup(host, tenant_id, plugin_id, settings)
    if isinstance(outcome, JSONResponse):
        return outcome
    secrets = {name for name in secret_setting_names(outcome.get("settings") or []) if name in settings}
    try:
        hook = host.hooks.create(tenant_id, plugin_id, user_id, name, settings, secrets)
    except HookWriteError as error:
        return not_written(error)
    log.info("endpoint %r of %s set up: %s", name, plugin_id, hook_url(host, hook.hook_id))
    return envelope(True)


def not_written(error: HookWriteError) -> JSONResponse:
    log.error("%s", error)
    return daemon_error(507, "PluginDaemonInternalServerError", str(error))


def check_setup(host: Host, tenant_id: str, plugin_id: str, settings: dict[str, Any]) -> dict[str, Any] | JSONResponse:
    """The plugin's endpoint declaration when a hook with these settings can be made, else the daemon's refusal."""
    declaration = declaration_for(host, tenant_id, plugin_id)
    if isinstance(declaration, JSONResponse):
        return declaration
    problem = validate_settings(settings, declaration.get("settings") or [])
    if problem:
        return refusal(-400, "PluginDaemonBadRequestError", f"failed to validate settings: {problem}")
    return declaration


def declaration_for(host: Host, tenant_id: str, plugin_id: str) -> dict[str, Any] | JSONResponse:
    """The endpoint group of a connected plugin allowed to register endpoints, else the daemon's refusal."""
    runtime = host.registry.get(tenant_id, plugin_id)
    if runtime is None:
        connected = ", ".join(rt.plugin_id for rt in host.registry.runtimes(tenant_id)) or "none"
        return refusal(
            -404, "PluginNotFoundError", f"plugin not found: {plugin_id} is not connected (connected: {connected})"
        )
    permission = ((runtime.manifest.get("resource") or {}).get("permission") or {}).get("endpoint") or {}
    if not permission.get("enabled"):
        return refusal(
            -403,
            "PluginPermissionDeniedError",
            "permission denied, you need to enable endpoint access in plugin manifest "
            "(resource.permission.endpoint.enabled: true)",
        )
    declaration = endpoint_declaration(runtime.declarations)
    if declaration is None:
        return refusal(-400, "PluginDaemonBadRequestError", f"plugin {plugin_id} does not have an endpoint")
    return declaration


def hook_url(host: Host, hook_id: str) -> str:
    """The URL people call; a mock listening on every interface is shown at its loopback address."""
    address = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(host.settings.host, host.settings.host)
    return f"http://{address}:{host.settings.port}/e/{hook_id}"


def _declaration_of(host: Host, hook: Hook) -> dict[str, Any] | None:
    runtime = host.registry.get(hook.tenant_id, hook.plugin_id)
    return endpoint_declaration(runtime.declarations) if runtime else None


def describe(host: Host, hook: Hook) -> dict[str, Any]:
    entry = hook.describe(_declaration_of(host, hook))
    entry["url"] = hook_url(host, hook.hook_id)  # not in the daemon's entry; handy for people
    return entry


@router.get("/plugin/{tenant_id}/endpoint/list")
async def list_endpoints(tenant_id: str, request: Request, page: int = 1, page_size: int = 100) -> dict[str, Any]:
    host = get_host(request)
    return envelope([describe(host, hook) for hook in _page(host.hooks.list(tenant_id), page, page_size)])


@router.get("/plugin/{tenant_id}/endpoint/list/plugin")
async def list_plugin_endpoints(
    tenant_id: str, plugin_id: str, request: Request, page: int = 1, page_size: int = 100
) -> dict[str, Any]:
    host = get_host(request)
    hooks = host.hooks.list(tenant_id, plugin_id)
    return envelope([describe(host, hook) for hook in _page(hooks, page, page_size)])


def _page(hooks: list[Hook], page: int, page_size: int) -> list[Hook]:
    page, page_size = max(page, 1), min(max(page_size, 1), 100)
    return hooks[(page - 1) * page_size : page * page_size]


async def _target(tenant_id: str, request: Request) -> tuple[dict[str, Any], Hook] | JSONResponse:
    body = await _json_body(request)
    if isinstance(body, JSONResponse):
        return body
    try:
        endpoint_id = _field(body, "endpoint_id", str)
    except BadField as error:
        return daemon_error(400, "PluginDaemonBadRequestError", str(error))
    hook = get_host(request).hooks.get(tenant_id, endpoint_id)
    if hook is None:
        return refusal(
            -404, "PluginDaemonNotFoundError", f"endpoint not found: no endpoint {endpoint_id!r} for tenant {tenant_id}"
        )
    return body, hook


async def _change(
    tenant_id: str, request: Request, change: Callable[[HookStore, Hook], Any]
) -> JSONResponse | dict[str, Any]:
    target = await _target(tenant_id, request)
    if isinstance(target, JSONResponse):
        return target
    try:
        change(get_host(request).hooks, target[1])
    except HookWriteError as error:
        return not_written(error)
    return envelope(True)


@router.post("/plugin/{tenant_id}/endpoint/enable", response_model=None)
async def enable_endpoint(tenant_id: str, request: Request) -> JSONResponse | dict[str, Any]:
    return await _change(tenant_id, request, lambda hooks, hook: hooks.set_enabled(hook, True))


@router.post("/plugin/{tenant_id}/endpoint/disable", response_model=None)
async def disable_endpoint(tenant_id: str, request: Request) -> JSONResponse | dict[str, Any]:
    return await _change(tenant_id, request, lambda hooks, hook: hooks.set_enabled(hook, False))


@router.post("/plugin/{tenant_id}/endpoint/remove", response_model=None)
async def remove_endpoint(tenant_id: str, request: Request) -> JSONResponse | dict[str, Any]:
    return await _change(tenant_id, request, lambda hooks, hook: hooks.remove(hook))


@router.post("/plugin/{tenant_id}/endpoint/update", response_model=None)
async def update_endpoint(tenant_id: str, request: Request) -> JSONResponse | dict[str, Any]:
    """Body: endpoint_id, name, settings, user_id. A secret given back masked keeps its value, as in the daemon."""
    target = await _target(tenant_id, request)
    if isinstance(target, JSONResponse):
        return target
    body, hook = target
    try:
        name = _field(body, "name", str, required=False) or hook.name
        settings = dict(_field(body, "settings", dict, required=False) or {})
    except BadField as error:
        return daemon_error(400, "PluginDaemonBadRequestError", str(error))
    host = get_host(request)
    declaration = declaration_for(host, tenant_id, hook.plugin_id)
    if isinstance(declaration, JSONResponse):
        return declaration
    secret_names = secret_setting_names(declaration.get("settings") or [])
    masked = mask_settings(hook.settings, secret_names)
    for setting in secret_names:
        if setting in settings and setting in hook.settings and settings[setting] == masked.get(setting):
            settings[setting] = hook.settings[setting]
    problem = validate_settings(settings, declaration.get("settings") or [])
    if problem:
        return refusal(-400, "PluginDaemonBadRequestError", f"failed to validate settings: {problem}")
    try:
        host.hooks.update(hook, name, settings, {setting for setting in secret_names if setting in settings})
    except HookWriteError as error:
        return not_written(error)
    return envelope(True)
