"""`dify-mock invoke model|datasource|trigger|endpoint ...` and `dify-mock endpoints`: every other way to drive a
plugin from the command line, through the mock's HTTP API like the Dify API does.

    dify-mock invoke model fake fake-llm invoke prompt="Hello"          # PROVIDER MODEL ACTION name=value ...
    dify-mock invoke datasource crawler crawler crawl url=https://x     # PROVIDER DATASOURCE ACTION ...
    dify-mock invoke trigger repo_events dispatch --data '{"a": 1}'     # PROVIDER ACTION [EVENT] ...
    dify-mock invoke endpoint HOOK /echo/x --method POST --data hi      # HOOK_ID_OR_NAME PATH
    dify-mock endpoints                                                 # each hook and its URL
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dify_mock.cli.console import describe_error, parse_parameters, print_chunk
from dify_mock.protocol.raw_http import build_request

if TYPE_CHECKING:
    import httpx

DEFAULT_URL = "http://127.0.0.1:5002"
# ACTION -> (dispatch route, model type it needs or None for any)
MODEL_ACTIONS: dict[tuple[str, str], str] = {
    ("llm", "invoke"): "llm/invoke",
    ("llm", "num_tokens"): "llm/num_tokens",
    ("llm", "poll"): "model/polling/start",
    ("text-embedding", "invoke"): "text_embedding/invoke",
    ("text-embedding", "num_tokens"): "text_embedding/num_tokens",
    ("text-embedding", "multimodal"): "multimodal_embedding/invoke",
    ("rerank", "invoke"): "rerank/invoke",
    ("rerank", "multimodal"): "multimodal_rerank/invoke",
    ("tts", "invoke"): "tts/invoke",
    ("tts", "voices"): "tts/model/voices",
    ("speech2text", "invoke"): "speech2text/invoke",
    ("moderation", "invoke"): "moderation/invoke",
}
ANY_MODEL_ACTIONS = {"schema": "model/schema", "validate": "model/validate_model_credentials"}
DATASOURCE_ACTIONS = {
    "validate": "datasource/validate_credentials",
    "crawl": "datasource/get_website_crawl",
    "pages": "datasource/get_online_document_pages",
    "content": "datasource/get_online_document_page_content",
    "browse": "datasource/online_drive_browse_files",
    "download": "datasource/online_drive_download_file",
}
TRIGGER_ACTIONS = {
    "validate": "trigger/validate_credentials",
    "subscribe": "trigger/subscribe",
    "unsubscribe": "trigger/unsubscribe",
    "refresh": "trigger/refresh",
    "dispatch": "trigger/dispatch_event",
    "event": "trigger/invoke_event",
}


class CliError(Exception):
    """Ends the command with this message on stderr and exit code 1."""


# ---------------------------------------------------------------------------------------------------------------
# Parsers
# ---------------------------------------------------------------------------------------------------------------


def add_invoke_kinds(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds model, datasource, trigger and endpoint to `dify-mock invoke`."""
    model = kinds.add_parser(
        "model",
        help="a model action: PROVIDER MODEL ACTION name=value ... (ACTION: invoke, num_tokens, poll, multimodal, "
        "voices, schema, validate; MODEL '-' with validate checks the provider's credentials)",
    )
    model.add_argument("provider")
    model.add_argument("model")
    model.add_argument("action")
    model.add_argument("parameters", nargs="*", metavar="NAME=VALUE")
    model.add_argument("--model-type", help="llm, text-embedding, ...; found from the plugin's declaration if left out")
    model.add_argument("--output", type=Path, help="tts: write the audio to this file")
    model.set_defaults(run=_runner(run_model))

    datasource = kinds.add_parser(
        "datasource",
        help="a datasource action: PROVIDER DATASOURCE ACTION name=value ... "
        f"(ACTION: {', '.join(DATASOURCE_ACTIONS)}; DATASOURCE '-' with validate)",
    )
    datasource.add_argument("provider")
    datasource.add_argument("datasource")
    datasource.add_argument("action", choices=list(DATASOURCE_ACTIONS))
    datasource.add_argument("parameters", nargs="*", metavar="NAME=VALUE")
    datasource.set_defaults(run=_runner(run_datasource))

    trigger = kinds.add_parser(
        "trigger",
        help=f"a trigger action: PROVIDER ACTION [EVENT] name=value ... (ACTION: {', '.join(TRIGGER_ACTIONS)})",
    )
    trigger.add_argument("provider")
    trigger.add_argument("action", choices=list(TRIGGER_ACTIONS))
    trigger.add_argument("parameters", nargs="*", metavar="[EVENT] NAME=VALUE")
    _add_request_options(trigger, "the webhook request for dispatch and event", "POST")
    trigger.add_argument("--path", default="/", help="the webhook request's path (default /)")
    trigger.set_defaults(run=_runner(run_trigger))

    endpoint = kinds.add_parser("endpoint", help="an HTTP request to a hook: HOOK_ID_OR_NAME PATH")
    endpoint.add_argument("hook")
    endpoint.add_argument("path", nargs="?", default="/")
    _add_request_options(endpoint, "the request", "GET")
    endpoint.add_argument("-i", "--include", action="store_true", help="print the status line and headers first")
    endpoint.set_defaults(run=_runner(run_endpoint))


def _add_request_options(parser: argparse.ArgumentParser, what: str, method: str) -> None:
    parser.add_argument("-X", "--method", default=method, help=f"method of {what} (default {method})")
    parser.add_argument("-d", "--data", help=f"body of {what}; @FILE reads a file")
    parser.add_argument(
        "-H", "--header", action="append", default=[], metavar="NAME:VALUE", help=f"a header of {what} (repeatable)"
    )


def add_endpoints_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`dify-mock endpoints [list|setup|enable|disable|remove]`."""
    endpoints = commands.add_parser("endpoints", help="list endpoint hooks with their URLs; set them up")
    _add_client_options(endpoints)
    actions = endpoints.add_subparsers(dest="endpoints_action", metavar="ACTION")
    actions.add_parser("list", help="each hook and its URL (the default)")
    setup = actions.add_parser("setup", help="a new hook: PLUGIN_ID [--name NAME] setting=value ...")
    # REMAINDER: argparse cannot mix --name with positionals after it; _setup_items reads it.
    setup.add_argument("items", nargs=argparse.REMAINDER, metavar="PLUGIN_ID [--name NAME] [NAME=VALUE ...]")
    for action in ("enable", "disable", "remove"):
        actions.add_parser(action, help=f"{action} a hook: HOOK_ID_OR_NAME").add_argument("hook")
    endpoints.set_defaults(run=_runner(run_endpoints))


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default=os.environ.get("DIFY_MOCK_URL", DEFAULT_URL))
    parser.add_argument("--tenant", default="default")
    parser.add_argument("--server-key", default=os.environ.get("DIFY_MOCK_SERVER_KEY"))
    parser.add_argument("--json", action="store_true", help="print JSON")


def _runner(command: Callable[[argparse.Namespace, httpx.Client], int]) -> Callable[[argparse.Namespace], int]:
    def run(arguments: argparse.Namespace) -> int:
        import httpx

        headers = {"X-Api-Key": arguments.server_key} if arguments.server_key else {}
        try:
            with httpx.Client(base_url=arguments.url, headers=headers, timeout=None) as client:
                return command(arguments, client)
        except CliError as error:
            print(f"dify-mock: {error}", file=sys.stderr)
            return 1
        except httpx.HTTPError as error:
            print(f"dify-mock: cannot reach the mock at {arguments.url}: {error}", file=sys.stderr)
            return 1

    return run


# ---------------------------------------------------------------------------------------------------------------
# Talking to the mock
# ---------------------------------------------------------------------------------------------------------------


def parameters_of(items: Sequence[str]) -> dict[str, Any]:
    """name=value (a string; value @FILE reads the file as text) and name:=<json>."""

    parameters = parse_parameters(items)
    for name, value in parameters.items():
        if isinstance(value, str) and value.startswith("@") and len(value) > 1:
            parameters[name] = _read_file(value[1:]).decode("utf-8", errors="replace")
    return parameters


def _read_file(path: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None


def find_plugin(client: httpx.Client, tenant: str, category: str, provider: str, given: str | None) -> str:
    """The connected plugin declaring `provider` in `category` (models, datasources, triggers)."""
    if given:
        return given
    plugins = _envelope(client.get(f"/plugin/{tenant}/management/list"))
    for plugin in plugins:
        for declared in plugin["declaration"].get(category) or []:
            name = declared.get("provider") if category == "models" else (declared.get("identity") or {}).get("name")
            if name == provider:
                return str(plugin["plugin_id"])
    connected = ", ".join(plugin["plugin_id"] for plugin in plugins) or "no plugin is connected"
    raise CliError(f"no connected plugin declares the {category} provider {provider!r} ({connected})")


def _envelope(response: httpx.Response) -> Any:

    try:
        body = response.json()
    except ValueError:
        raise CliError(f"{response.status_code}: {response.text[:300]}") from None
    if response.status_code >= 400 or not isinstance(body, dict) or body.get("code", 0) != 0:
        message = body.get("message", "") if isinstance(body, dict) else str(body)
        raise CliError(f"{response.status_code}: {describe_error(str(message))}")
    return body.get("data")


def dispatch(
    client: httpx.Client, arguments: argparse.Namespace, route: str, plugin: str, data: dict[str, Any]
) -> Iterator[Any]:
    """Each chunk the plugin streams for `route`; CliError on any error."""
    from dify_mock.testing import parse_sse_events

    body = {"user_id": arguments.user, "data": data}
    path = f"/plugin/{arguments.tenant}/dispatch/{route}"
    with client.stream("POST", path, json=body, headers={"X-Plugin-ID": plugin}) as response:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.read()
            yield _envelope(response)
            return
        buffer = b""
        for piece in response.iter_bytes():
            buffer += piece
            complete, _, buffer = buffer.rpartition(b"\n\n")
            for event in parse_sse_events(complete + b"\n\n") if complete else []:
                if event.get("code", 0) != 0:
                    raise CliError(describe_error(event.get("message", "")))
                yield event.get("data")


def show(value: Any, as_json: bool) -> None:
    print(json.dumps(value, ensure_ascii=False) if as_json else json.dumps(value, ensure_ascii=False, indent=2))


# ---------------------------------------------------------------------------------------------------------------
# invoke model
# ---------------------------------------------------------------------------------------------------------------


def _model_type(client: httpx.Client, tenant: str, plugin: str, provider: str, model: str) -> str:
    plugins = _envelope(client.get(f"/plugin/{tenant}/management/list"))
    for entry in plugins:
        if entry["plugin_id"] != plugin:
            continue
        for declared in entry["declaration"].get("models") or []:
            if declared.get("provider") == provider:
                for known in declared.get("models") or []:
                    if known.get("model") == model:
                        return str(known["model_type"])
    raise CliError(f"model {model!r} is not among the predefined models of {provider!r}; give --model-type")


def _prompt_messages(parameters: dict[str, Any]) -> None:
    """prompt=... (and system=...) become prompt_messages."""
    if "prompt_messages" in parameters:
        return
    messages = []
    if "system" in parameters:
        messages.append({"role": "system", "content": str(parameters.pop("system"))})
    messages.append({"role": "user", "content": str(parameters.pop("prompt", ""))})
    parameters["prompt_messages"] = messages


def run_model(arguments: argparse.Namespace, client: httpx.Client) -> int:
    audio_file = next((item[len("file=@") :] for item in arguments.parameters if item.startswith("file=@")), None)
    parameters = parameters_of([item for item in arguments.parameters if not item.startswith("file=@")])
    if audio_file is not None:
        parameters["file"] = _read_file(audio_file).hex()
    credentials = parameters_of(arguments.credential)
    plugin = find_plugin(client, arguments.tenant, "models", arguments.provider, arguments.plugin)
    if arguments.model == "-":
        if arguments.action != "validate":
            raise CliError("MODEL '-' is only for `validate` (the provider's credentials)")
        provider_data = {"provider": arguments.provider, "credentials": credentials}
        for chunk in dispatch(client, arguments, "model/validate_provider_credentials", plugin, provider_data):
            show(chunk, arguments.json)
        return 0
    model_type = arguments.model_type or _model_type(
        client, arguments.tenant, plugin, arguments.provider, arguments.model
    )
    route = ANY_MODEL_ACTIONS.get(arguments.action) or MODEL_ACTIONS.get((model_type, arguments.action))
    if route is None:
        actions = [action for (kind, action) in MODEL_ACTIONS if kind == model_type] + list(ANY_MODEL_ACTIONS)
        raise CliError(f"a {model_type} model has no action {arguments.action!r}; use one of: {', '.join(actions)}")
    data: dict[str, Any] = {
        "provider": arguments.provider,
        "model_type": model_type,
        "model": arguments.model,
        "credentials": credentials,
    }
    if model_type == "llm" and arguments.action != "schema" and arguments.action != "validate":
        _prompt_messages(parameters)
    if route.startswith("text_embedding/") and "text" in parameters:
        parameters["texts"] = [str(parameters.pop("text"))]
    if route == "multimodal_embedding/invoke" and "text" in parameters:
        parameters["documents"] = [{"content": str(parameters.pop("text")), "content_type": "text"}]
    if route == "multimodal_rerank/invoke":
        if isinstance(parameters.get("query"), str):
            parameters["query"] = {"content": parameters["query"], "content_type": "text"}
        docs = parameters.get("docs") or []
        parameters["docs"] = [{"content": doc, "content_type": "text"} if isinstance(doc, str) else doc for doc in docs]
    if route == "tts/invoke":
        parameters.setdefault("content_text", str(parameters.pop("text", "")))
        parameters.setdefault("voice", "")
        parameters.setdefault("tenant_id", arguments.tenant)
    data.update(parameters)
    if route == "model/polling/start":
        return _poll(client, arguments, plugin, data)
    return _print_model_chunks(dispatch(client, arguments, route, plugin, data), route, arguments)


def _print_model_chunks(chunks: Iterator[Any], route: str, arguments: argparse.Namespace) -> int:
    inline = False
    audio = bytearray()
    mime = ""
    for chunk in chunks:
        if arguments.json:
            show(chunk, True)
        elif route == "llm/invoke":
            message = chunk["delta"]["message"]
            if message.get("content"):
                print(_text(message["content"]), end="", flush=True)
                inline = True
            for call in message.get("tool_calls") or []:
                print(("\n" if inline else "") + f"tool call: {json.dumps(call['function'], ensure_ascii=False)}")
                inline = False
        elif route == "tts/invoke":
            audio += bytes.fromhex(chunk["result"])
            mime = chunk.get("mime_type", "")
        else:
            show(chunk, False)
    if inline:
        print()
    if route == "tts/invoke" and not arguments.json:
        if arguments.output:
            arguments.output.write_bytes(bytes(audio))
            print(f"{len(audio)} bytes of {mime or 'audio'} written to {arguments.output}")
        else:
            print(f"{len(audio)} bytes of {mime or 'audio'} (write them with --output FILE)")
    return 0


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(part.get("data", "") for part in content if isinstance(part, dict) and part.get("type") == "text")


def _poll(client: httpx.Client, arguments: argparse.Namespace, plugin: str, data: dict[str, Any]) -> int:
    """Starts a polled LLM call, then checks it as Dify does until it is no longer running."""
    data = {**data, "stream": False}
    result = next(dispatch(client, arguments, "model/polling/start", plugin, data))
    check = {key: data[key] for key in ("provider", "model_type", "model", "credentials")}
    for _ in range(int(result.get("max_attempts") or 60)):
        if arguments.json:
            show(result, True)
        if result.get("status") != "running":
            break
        time.sleep(min(float(result.get("next_check_after_seconds") or 1), 5))
        check["plugin_state"] = result.get("plugin_state") or {}
        result = next(dispatch(client, arguments, "model/polling/check", plugin, check))
    if arguments.json:
        return 0 if result.get("status") == "succeeded" else 1
    if result.get("status") == "succeeded":
        print(_text(result["result"]["message"]["content"]))
        return 0
    raise CliError(f"polling ended {result.get('status')}: {result.get('error') or 'no result'}")


# ---------------------------------------------------------------------------------------------------------------
# invoke datasource
# ---------------------------------------------------------------------------------------------------------------


def run_datasource(arguments: argparse.Namespace, client: httpx.Client) -> int:
    parameters = parameters_of(arguments.parameters)
    credentials = parameters_of(arguments.credential)
    plugin = find_plugin(client, arguments.tenant, "datasources", arguments.provider, arguments.plugin)
    data: dict[str, Any] = {"provider": arguments.provider, "credentials": credentials}
    if arguments.action != "validate":
        data["datasource"] = arguments.datasource
    if arguments.action in ("crawl", "pages"):
        data["datasource_parameters"] = parameters
    elif arguments.action == "content":
        data["page"] = {"type": "page", **parameters}
    elif arguments.action == "browse":
        data["request"] = {"prefix": None, **parameters}
    elif arguments.action == "download":
        data["request"] = parameters
    for chunk in dispatch(client, arguments, DATASOURCE_ACTIONS[arguments.action], plugin, data):
        _print_message(chunk, arguments.json)
    return 0


def _print_message(chunk: Any, as_json: bool) -> None:
    """A datasource or tool message; other chunks as JSON."""

    kind = chunk.get("type") if isinstance(chunk, dict) else None
    if as_json or kind not in ("text", "json", "link", "variable", "blob"):
        show(chunk, as_json)
    elif kind == "blob":
        size = len(base64.b64decode(chunk["message"].get("blob") or ""))
        meta = chunk.get("meta") or {}
        print(f"[blob: {size} bytes{', ' + meta['mime_type'] if meta.get('mime_type') else ''}]")
    else:
        if print_chunk(chunk, False, False):
            print()


# ---------------------------------------------------------------------------------------------------------------
# invoke trigger
# ---------------------------------------------------------------------------------------------------------------


def _webhook(arguments: argparse.Namespace) -> str:
    """The hex of the raw request the webhook caller would send, written as the daemon writes requests."""
    body = b""
    if arguments.data is not None:
        body = _read_file(arguments.data[1:]) if arguments.data.startswith("@") else arguments.data.encode()
    headers = []
    for header in arguments.header:
        name, separator, value = header.partition(":")
        if not separator or not name.strip():
            raise CliError(f"--header {header!r} should be NAME:VALUE")
        headers.append((name.strip(), value.strip()))
    if body and not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json" if body.lstrip()[:1] in (b"{", b"[") else "text/plain"))
    host = arguments.url.split("://", 1)[-1].split("/", 1)[0]
    return build_request(arguments.method, arguments.path, headers, body, host).hex()


def run_trigger(arguments: argparse.Namespace, client: httpx.Client) -> int:
    items = list(arguments.parameters)
    event = None
    if arguments.action == "event":
        if not items or "=" in items[0]:
            raise CliError("`event` needs the event's name: PROVIDER event EVENT name=value ...")
        event = items.pop(0)
    parameters = parameters_of(items)
    credentials = parameters_of(arguments.credential)
    plugin = find_plugin(client, arguments.tenant, "triggers", arguments.provider, arguments.plugin)
    data: dict[str, Any] = {"provider": arguments.provider, "credentials": credentials}
    subscription = parameters.pop(
        "subscription",
        {"expires_at": -1, "endpoint": f"{arguments.url}/triggers/cli", "parameters": {}, "properties": {}},
    )
    credential_type = "oauth2" if "access_token" in credentials else "api-key"
    if arguments.action == "subscribe":
        endpoint = parameters.pop("endpoint", f"{arguments.url}/triggers/cli")
        data.update(endpoint=endpoint, parameters=parameters, credential_type=credential_type)
    elif arguments.action in ("unsubscribe", "refresh"):
        data.update(subscription=subscription, credential_type=credential_type)
    elif arguments.action == "dispatch":
        data.update(subscription=subscription, raw_http_request=_webhook(arguments))
        data.update(credentials=credentials or None, credential_type=credential_type if credentials else None)
    elif arguments.action == "event":
        payload = parameters.pop("payload", {})
        data.update(
            event=event,
            subscription=subscription,
            raw_http_request=_webhook(arguments),
            parameters=parameters,
            payload=payload,
            credential_type=credential_type,
        )
    for chunk in dispatch(client, arguments, TRIGGER_ACTIONS[arguments.action], plugin, data):
        if arguments.action == "dispatch" and not arguments.json and isinstance(chunk, dict):
            response = bytes.fromhex(chunk.get("response") or "")
            show({**chunk, "response": response.decode("utf-8", errors="replace")}, False)
        else:
            show(chunk, arguments.json)
    return 0


# ---------------------------------------------------------------------------------------------------------------
# invoke endpoint, endpoints
# ---------------------------------------------------------------------------------------------------------------


def _hooks(client: httpx.Client, tenant: str) -> list[dict[str, Any]]:
    hooks: list[dict[str, Any]] = _envelope(
        client.get(f"/plugin/{tenant}/endpoint/list", params={"page": 1, "page_size": 100})
    )
    return hooks


def _find_hook(client: httpx.Client, tenant: str, wanted: str) -> dict[str, Any]:
    hooks = _hooks(client, tenant)
    found = [hook for hook in hooks if wanted in (hook["hook_id"], hook["id"])] or [
        h for h in hooks if h["name"] == wanted
    ]
    if len(found) == 1:
        return found[0]
    if found:
        raise CliError(
            f"{len(found)} hooks are named {wanted!r}; give the hook id ({', '.join(h['hook_id'] for h in found)})"
        )
    known = (
        ", ".join(f"{hook['name']} ({hook['hook_id']})" for hook in hooks)
        or "none; make one with `dify-mock endpoints setup`"
    )
    raise CliError(f"no hook {wanted!r} for tenant {tenant} (hooks: {known})")


def run_endpoint(arguments: argparse.Namespace, client: httpx.Client) -> int:
    hook = _find_hook(client, arguments.tenant, arguments.hook)
    body = None
    if arguments.data is not None:
        body = _read_file(arguments.data[1:]) if arguments.data.startswith("@") else arguments.data.encode()
    headers = {}
    for header in arguments.header:
        name, separator, value = header.partition(":")
        if not separator:
            raise CliError(f"--header {header!r} should be NAME:VALUE")
        headers[name.strip()] = value.strip()
    path = "/" + arguments.path.lstrip("/")
    with client.stream(
        arguments.method.upper(), f"/e/{hook['hook_id']}{path}", content=body, headers=headers
    ) as response:
        if arguments.include:
            print(f"HTTP/1.1 {response.status_code} {response.reason_phrase}")
            for name, value in response.headers.items():
                print(f"{name}: {value}")
            print()
        if response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/json"):
            response.read()
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict) and set(body) == {"code", "message", "data"}:
                _envelope(response)  # the daemon's own error, not the plugin's answer: raises its readable message
        for piece in response.iter_bytes():
            sys.stdout.buffer.write(piece)
            sys.stdout.buffer.flush()
    return 0 if response.status_code < 400 else 1


def _setup_items(items: list[str]) -> tuple[str, str, list[str]]:
    """PLUGIN_ID, the --name (default "default") and the settings of `endpoints setup`."""
    name, rest = "default", []
    index = 0
    while index < len(items):
        item = items[index]
        if item == "--name" and index + 1 < len(items):
            name, index = items[index + 1], index + 2
            continue
        if item.startswith("--name="):
            name = item.split("=", 1)[1]
        else:
            rest.append(item)
        index += 1
    if not rest or "=" in rest[0]:
        raise CliError("setup needs the plugin: dify-mock endpoints setup PLUGIN_ID [--name NAME] [setting=value ...]")
    return rest[0], name, rest[1:]


def run_endpoints(arguments: argparse.Namespace, client: httpx.Client) -> int:
    action = arguments.endpoints_action or "list"
    tenant = arguments.tenant
    if action == "setup":
        plugin_id, name, items = _setup_items(arguments.items)
        settings = parameters_of(items)
        body = {
            "plugin_unique_identifier": plugin_id,
            "name": name,
            "settings": settings,
            "user_id": "dify-mock-cli",
        }
        _envelope(client.post(f"/plugin/{tenant}/endpoint/setup", json=body))
        hook = [h for h in _hooks(client, tenant) if h["plugin_id"] == plugin_id.split(":")[0]][-1]
        print(hook["url"])
        return 0
    if action in ("enable", "disable", "remove"):
        hook = _find_hook(client, tenant, arguments.hook)
        _envelope(client.post(f"/plugin/{tenant}/endpoint/{action}", json={"endpoint_id": hook["id"]}))
        print(f"{action}d {hook['url']}" if action != "remove" else f"removed {hook['url']}")
        return 0
    hooks = _hooks(client, tenant)
    if arguments.json:
        show(hooks, True)
        return 0
    if not hooks:
        print(f"no endpoint hooks for tenant {tenant}; make one with `dify-mock endpoints setup PLUGIN_ID`")
    for hook in hooks:
        state = "" if hook["enabled"] else "  (disabled)"
        routes = ", ".join(
            f"{e['method']} {e['path']}" for e in hook["declaration"].get("endpoints") or [] if not e.get("hidden")
        )
        print(f"{hook['url']}  {hook['name']}  {hook['plugin_id']}{state}")
        if routes:
            print(f"    {routes}")
    return 0
