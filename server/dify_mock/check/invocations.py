"""Every entry point a plugin declares, invoked once through the mock's dispatch API, as Dify would call it.

Tools and agent strategies get parameters their schema allows; a model provider validates made-up credentials and
answers once per model type; an endpoint is set up and requested; datasources and triggers validate credentials.
Each outcome is a finding: answered, needs network (the proxy saw the host), or failed with the plugin's error.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from dify_mock.check.findings import Finding, Status
from dify_mock.check.network import RefusingProxy, hosts_in, is_network_failure
from dify_mock.check.parameters import SAMPLE_TEXT, credentials_for, parameters_for
from dify_mock.protocol.raw_http import build_request
from dify_mock.testing import MockServer, PluginError

CREDENTIAL_ERRORS = (
    "CredentialsValidateFailedError",
    "ToolProviderCredentialValidationError",
    "TriggerProviderCredentialValidationError",
    "DatasourceProviderCredentialValidationError",
    "InvokeAuthorizationError",
)
REFUSED = "refused made-up credentials"
# Errors no validation raises on purpose: a credentials check that ends in one of these is the plugin's bug.
CRASHES = (
    "NotImplementedError",
    "AttributeError",
    "KeyError",
    "TypeError",
    "NameError",
    "UnboundLocalError",
    "ImportError",
    "ModuleNotFoundError",
    "IndexError",
    "ZeroDivisionError",
    "RecursionError",
    "JSONDecodeError",
    "HTTPStatusError",
)
WAV_SILENCE = b"RIFF$\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00@\x1f\x00\x00\x80>\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00"
Call = Callable[[], list[dict[str, Any]]]


@dataclass(frozen=True)
class EntryPoint:
    name: str  # "tool google/search", "model openai llm gpt-4o", ...
    call: Call
    validates_credentials: bool = False
    provider: str = ""  # entry points of one provider share its credentials
    oauth_only: bool = False  # its provider's credentials come only from Dify's OAuth flow


def entry_points(
    mock: MockServer, plugin_id: str, declarations: Mapping[str, list[dict[str, Any]]]
) -> list[EntryPoint]:
    files = _FileMaker(mock)
    found: list[EntryPoint] = []
    for provider in declarations.get("tools", []):
        found += _tools(mock, plugin_id, provider, files)
    for provider in declarations.get("agent_strategies", []):
        found += _strategies(mock, plugin_id, provider, files)
    for provider in declarations.get("models", []):
        found += _models(mock, plugin_id, provider)
    for provider in declarations.get("endpoints", []):
        found += _endpoints(mock, plugin_id, provider)
    # Dify asks to validate credentials only through a form it shows: a provider that declares none (OAuth only,
    # or no subscription constructor) never gets the call.
    for provider in declarations.get("datasources", []):
        name = str(provider["identity"]["name"])
        if provider.get("credentials_schema"):
            data = {"provider": name, "credentials": credentials_for(provider["credentials_schema"])}
            call = _dispatch(mock, "datasource/validate_credentials", plugin_id, data)
            found.append(EntryPoint(f"datasource {name} credentials", call, True, f"datasource {name}"))
    for provider in declarations.get("datasources", []):
        found += _datasources(mock, plugin_id, provider, files)
    for provider in declarations.get("triggers", []):
        name = str(provider["identity"]["name"])
        schema = (provider.get("subscription_constructor") or {}).get("credentials_schema")
        if schema:
            data = {"provider": name, "credentials": credentials_for(schema)}
            call = _dispatch(mock, "trigger/validate_credentials", plugin_id, data)
            found.append(EntryPoint(f"trigger {name} credentials", call, True, f"trigger {name}"))
        found += _trigger_events(mock, plugin_id, provider, files)
    return found


def invoke(entry: EntryPoint, proxy: RefusingProxy, refused: set[str]) -> Finding:
    """`refused`: the providers whose made-up credentials were refused so far; Dify would invoke them only with
    credentials that validated, so what fails after that needs real ones rather than being the plugin's fault."""
    finding = _invoke(entry, proxy)
    if entry.validates_credentials and finding.message.startswith(REFUSED):
        refused.add(entry.provider)
        return finding
    # a permission the manifest lacks fails whatever the credentials
    if finding.status is not Status.FAIL or "permission denied" in finding.message:
        return finding
    if entry.oauth_only:
        finding.status = Status.SKIP
        finding.message = f"needs OAuth credentials, which only Dify's OAuth flow gives: {finding.message}"
    elif entry.provider in refused:
        finding.status = Status.SKIP
        finding.message = f"needs real credentials (the provider refused made-up ones): {finding.message}"
    return finding


def _invoke(entry: EntryPoint, proxy: RefusingProxy) -> Finding:
    started = time.monotonic()
    try:
        chunks = entry.call()
    except PluginError as error:
        return _failed(entry, f"{error.error_type}: {error.message}", error.error_type, proxy, started)
    except httpx.TimeoutException:
        return Finding(
            entry.name, Status.FAIL, "no answer in time: the plugin hangs", seconds=time.monotonic() - started
        )
    except httpx.HTTPStatusError as error:
        message = f"the mock answered HTTP {error.response.status_code}: {error.response.text[:300]}"
        return _failed(entry, message, "HTTPStatusError", proxy, started)
    except httpx.HTTPError as error:
        message = f"the mock could not be reached: {error}"
        return Finding(entry.name, Status.FAIL, message, seconds=time.monotonic() - started)
    seconds = time.monotonic() - started
    return Finding(entry.name, Status.PASS, f"answered: {_summary(chunks)}", seconds=seconds)


def _failed(entry: EntryPoint, message: str, error_type: str, proxy: RefusingProxy, started: float) -> Finding:
    seconds = time.monotonic() - started
    hosts = sorted(set(proxy.hosts_since(started)) | set(hosts_in(message)))
    short = _one_line(message)
    if is_network_failure(message, hosts):
        where = ", ".join(hosts) if hosts else "a host it did not name"
        return Finding(entry.name, Status.NETWORK, f"needs network: {where}", seconds=seconds, hosts=hosts)
    if entry.validates_credentials and not any(crash in error_type for crash in CRASHES):
        return Finding(entry.name, Status.PASS, f"{REFUSED}: {short}", seconds=seconds)
    if any(kind in error_type for kind in CREDENTIAL_ERRORS):
        return Finding(entry.name, Status.SKIP, f"needs real credentials: {short}", seconds=seconds)
    return Finding(entry.name, Status.FAIL, short, seconds=seconds)


def _one_line(message: str, limit: int = 300) -> str:
    text = " ".join(message.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _summary(chunks: list[dict[str, Any]]) -> str:
    if len(chunks) == 1 and chunks[0].get("type") == "http":
        return f"HTTP {chunks[0]['status']}, {chunks[0]['bytes']} bytes"
    texts = []
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        message = chunk.get("message")
        if chunk.get("type") == "text" and isinstance(message, dict):
            texts.append(str(message.get("text", "")))
    text = _one_line("".join(texts), 80)
    return f"{len(chunks)} chunk{'s' if len(chunks) != 1 else ''}" + (f", text {text!r}" if text else "")


def _dispatch(mock: MockServer, route: str, plugin_id: str, data: dict[str, Any]) -> Call:
    return lambda: mock.dispatch(route, plugin_id, data)


# -- the kinds


class _FileMaker:
    """Stores a small file on the mock for each `file` parameter, as Dify's form would upload one."""

    def __init__(self, mock: MockServer) -> None:
        self._mock = mock

    def __call__(self, name: str) -> dict[str, Any]:
        content = f"A file for the {name} parameter: {SAMPLE_TEXT}\n".encode()
        response = self._mock.http.post("/mock/files", files={"file": (f"{name}.txt", content, "text/plain")})
        response.raise_for_status()
        file: dict[str, Any] = response.json()["file"]
        return file


def _tools(mock: MockServer, plugin_id: str, provider: dict[str, Any], files: _FileMaker) -> Iterator[EntryPoint]:
    name = str(provider["identity"]["name"])
    credentials = credentials_for(provider.get("credentials_schema"))
    if provider.get("credentials_schema"):
        data = {"provider": name, "credentials": credentials}
        call = _dispatch(mock, "tool/validate_credentials", plugin_id, data)
        yield EntryPoint(f"tool {name} credentials", call, True, f"tool {name}")
    for tool in provider.get("tools") or []:
        tool_name = str(tool["identity"]["name"])

        def call(tool: dict[str, Any] = tool, tool_name: str = tool_name) -> list[dict[str, Any]]:
            parameters = parameters_for(tool.get("parameters") or [], files)
            return mock.invoke_tool(plugin_id, name, tool_name, parameters, credentials)

        yield EntryPoint(f"tool {name}/{tool_name}", call, provider=f"tool {name}", oauth_only=_oauth_only(provider))


def _strategies(mock: MockServer, plugin_id: str, provider: dict[str, Any], files: _FileMaker) -> Iterator[EntryPoint]:
    name = str(provider["identity"]["name"])
    for strategy in provider.get("strategies") or []:
        strategy_name = str(strategy["identity"]["name"])

        def call(strategy: dict[str, Any] = strategy, strategy_name: str = strategy_name) -> list[dict[str, Any]]:
            parameters = parameters_for(strategy.get("parameters") or [], files)
            return mock.invoke_agent_strategy(plugin_id, name, strategy_name, parameters)

        yield EntryPoint(f"agent strategy {name}/{strategy_name}", call)


MODEL_CALLS: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "llm": (
        "llm/invoke",
        lambda: {"prompt_messages": [{"role": "user", "content": SAMPLE_TEXT}], "model_parameters": {}, "stream": True},
    ),
    "text-embedding": ("text_embedding/invoke", lambda: {"texts": [SAMPLE_TEXT], "input_type": "document"}),
    "rerank": ("rerank/invoke", lambda: {"query": SAMPLE_TEXT, "docs": ["Paris is sunny.", "Tokyo is rainy."]}),
    "tts": ("tts/invoke", lambda: {"content_text": SAMPLE_TEXT, "voice": "", "tenant_id": "default"}),
    "speech2text": ("speech2text/invoke", lambda: {"file": WAV_SILENCE.hex()}),
    "moderation": ("moderation/invoke", lambda: {"text": SAMPLE_TEXT}),
}


def _models(mock: MockServer, plugin_id: str, provider: dict[str, Any]) -> Iterator[EntryPoint]:
    name = str(provider["provider"])
    schema = (provider.get("provider_credential_schema") or {}).get("credential_form_schemas")
    credentials = credentials_for(schema)
    data = {"provider": name, "credentials": credentials}
    validate = _dispatch(mock, "model/validate_provider_credentials", plugin_id, data)
    yield EntryPoint(f"model {name} credentials", validate, True, f"model {name}")
    seen: set[str] = set()
    for model in provider.get("models") or []:
        model_type = str(model.get("model_type"))
        if model_type in seen or model_type not in MODEL_CALLS:
            continue
        seen.add(model_type)
        route, body = MODEL_CALLS[model_type]
        request = {"provider": name, "model_type": model_type, "model": model["model"], "credentials": credentials}
        call = _dispatch(mock, route, plugin_id, {**request, **body()})
        yield EntryPoint(f"model {name} {model_type} {model['model']}", call, provider=f"model {name}")


def _oauth_only(provider: dict[str, Any]) -> bool:
    oauth = provider.get("oauth_schema") or {}
    return not provider.get("credentials_schema") and bool(
        oauth.get("credentials_schema") or oauth.get("client_schema")
    )


DATASOURCE_ROUTES = {  # provider_type -> the first call Dify makes when a user browses it
    "website_crawl": "datasource/get_website_crawl",
    "online_document": "datasource/get_online_document_pages",
    "online_drive": "datasource/online_drive_browse_files",
}


def _datasources(mock: MockServer, plugin_id: str, provider: dict[str, Any], files: _FileMaker) -> Iterator[EntryPoint]:
    name = str(provider["identity"]["name"])
    route = DATASOURCE_ROUTES.get(str(provider.get("provider_type")))
    if route is None:
        return  # local_file: Dify reads the upload itself
    credentials = credentials_for(provider.get("credentials_schema"))
    for datasource in provider.get("datasources") or []:
        datasource_name = str(datasource["identity"]["name"])

        def call(
            datasource: dict[str, Any] = datasource, datasource_name: str = datasource_name
        ) -> list[dict[str, Any]]:
            data: dict[str, Any] = {"provider": name, "datasource": datasource_name, "credentials": credentials}
            parameters = parameters_for(datasource.get("parameters") or [], files)
            if route == "datasource/online_drive_browse_files":
                data["request"] = {"prefix": None, "bucket": None, "max_keys": 20, "next_page_parameters": None}
            else:
                data["datasource_parameters"] = parameters
            return mock.dispatch(route, plugin_id, data)

        oauth_only = _oauth_only(provider)
        yield EntryPoint(
            f"datasource {name}/{datasource_name}", call, provider=f"datasource {name}", oauth_only=oauth_only
        )


def _webhook(mock: MockServer) -> str:
    """A webhook call as the daemon hands it to the plugin: the raw request, hex-encoded."""
    body = json.dumps({"event": "dify-mock-check", "text": SAMPLE_TEXT}).encode()
    headers = [("Content-Type", "application/json")]
    return build_request("POST", "/", headers, body, mock.url.split("://", 1)[1]).hex()


def _trigger_events(
    mock: MockServer, plugin_id: str, provider: dict[str, Any], files: _FileMaker
) -> Iterator[EntryPoint]:
    """The webhook dispatched once, then each event invoked on it, as Dify does when a subscription fires."""
    name = str(provider["identity"]["name"])
    constructor = provider.get("subscription_constructor") or {}
    credentials = credentials_for(constructor.get("credentials_schema"))
    subscription = {
        "expires_at": -1,
        "endpoint": f"{mock.url}/triggers/dify-mock-check",
        "parameters": {},
        "properties": {},
    }
    common = {"provider": name, "subscription": subscription, "credentials": credentials or None}
    common["credential_type"] = "api-key" if credentials else None
    oauth_only = _oauth_only(constructor)

    def dispatch() -> list[dict[str, Any]]:
        return mock.dispatch("trigger/dispatch_event", plugin_id, {**common, "raw_http_request": _webhook(mock)})

    yield EntryPoint(f"trigger {name} webhook", dispatch, provider=f"trigger {name}", oauth_only=oauth_only)
    for event in provider.get("events") or []:
        event_name = str(event["identity"]["name"])

        def call(event: dict[str, Any] = event, event_name: str = event_name) -> list[dict[str, Any]]:
            data = {
                **common,
                # an event always gets a mapping: "unauthorized" when the subscription was made without credentials
                "credentials": credentials,
                "credential_type": "api-key" if credentials else "unauthorized",
                "event": event_name,
                "raw_http_request": _webhook(mock),
                "parameters": parameters_for(event.get("parameters") or [], files),
                "payload": {"event": "dify-mock-check", "text": SAMPLE_TEXT},
            }
            return mock.dispatch("trigger/invoke_event", plugin_id, data)

        yield EntryPoint(f"trigger {name}/{event_name}", call, provider=f"trigger {name}", oauth_only=oauth_only)


def _endpoints(mock: MockServer, plugin_id: str, provider: dict[str, Any]) -> Iterator[EntryPoint]:
    settings = credentials_for(provider.get("settings"))
    hook: dict[str, str] = {}

    def hook_id() -> str:
        if not hook:
            body = {"plugin_unique_identifier": plugin_id, "name": "dify-mock-check", "settings": settings}
            made = mock.http.post(f"/plugin/{mock.tenant}/endpoint/setup", json=body).raise_for_status().json()
            listed = mock.http.get(f"/plugin/{mock.tenant}/endpoint/list/plugin", params={"plugin_id": plugin_id})
            entries = listed.raise_for_status().json().get("data") or []
            if not entries:
                raise PluginError("EndpointError", f"the endpoint could not be set up: {made.get('message', made)}")
            hook["id"] = str(entries[-1]["hook_id"])
        return hook["id"]

    for endpoint in provider.get("endpoints") or []:
        method, path = str(endpoint.get("method", "GET")).upper(), str(endpoint.get("path", "/"))

        def call(method: str = method, path: str = path) -> list[dict[str, Any]]:
            concrete = re.sub(r"<int:[^>]+>", "200", path)
            concrete = re.sub(r"\{[^}]+\}|<[^>]+>", "dify-mock", concrete)
            body = {"query": SAMPLE_TEXT} if method in ("POST", "PUT", "PATCH") else None
            response = mock.http.request(method, f"/e/{hook_id()}{concrete}", json=body)
            if response.status_code >= 500:
                raise PluginError("EndpointError", f"HTTP {response.status_code}: {response.text[:300]}")
            return [{"type": "http", "status": response.status_code, "bytes": len(response.content)}]

        yield EntryPoint(f"endpoint {method} {path}", call)
