"""`dify-mock invoke tool|agent|model|datasource|trigger|endpoint ...`: every other way to drive a
plugin from the command line, through the mock's HTTP API like the Dify API does.

    dify-mock invoke model fake fake-llm invoke prompt="Hello"          # PROVIDER MODEL ACTION name=value ...
    dify-mock invoke datasource crawler crawler crawl url=https://x     # PROVIDER DATASOURCE ACTION ...
    dify-mock invoke trigger repo_events dispatch --data '{"a": 1}'     # PROVIDER ACTION [EVENT] ...
    dify-mock invoke endpoint HOOK /echo/x --method POST --data hi      # HOOK_ID_OR_NAME PATH
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dify_mock.cli.console import UsageError, parse_parameters, print_chunk
from dify_mock.cli.declared import check_required, declared_parameters
from dify_mock.cli.endpoints import run_endpoint
from dify_mock.cli.mock_client import (
    CliError,
    PluginFailed,
    add_request_options,
    dispatch,
    envelope,
    find_plugin,
    parameters_of,
    read_file,
    runner,
    show,
)
from dify_mock.cli.options import CLIENT_SETTINGS, add_settings_options
from dify_mock.protocol.raw_http import build_request

if TYPE_CHECKING:
    import httpx

# ACTION -> (dispatch route, model type it needs or None for any)
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


PARAMETERS_HELP = "NAME=VALUE for a string, NAME:=JSON for anything else, NAME:=@FILE for JSON in a file"


def add_invoke_options(parser: argparse.ArgumentParser, *, after_kind: bool) -> None:
    """The options every kind takes, before the kind or after it (`invoke tool P T --url U` works too)."""
    add_settings_options(parser, (*CLIENT_SETTINGS, "user"))
    # After the kind, a flag left out must not undo its value given before the kind: no default there.
    plugin_default: Any = argparse.SUPPRESS if after_kind else None
    json_default: Any = argparse.SUPPRESS if after_kind else False
    credential_default: Any = argparse.SUPPRESS if after_kind else []
    parser.add_argument(
        "--plugin", default=plugin_default, help="the plugin's author/name; found from the provider when left out"
    )
    parser.add_argument("--json", action="store_true", default=json_default, help="print every chunk as a JSON line")
    parser.add_argument(
        "--credential",
        action="append",
        default=credential_default,
        metavar="NAME=VALUE",
        help="a provider credential (repeatable)",
    )


def add_invoke_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], help_text: str) -> None:
    invoke = commands.add_parser(
        "invoke",
        help=help_text,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_invoke_options(invoke, after_kind=False)
    kinds = invoke.add_subparsers(
        dest="kind", metavar="KIND", required=True, help="what to invoke; `dify-mock invoke KIND --help` for its form"
    )
    tool = kinds.add_parser(
        "tool",
        help="invoke a tool: PROVIDER TOOL NAME=VALUE ...",
        description="Invoke a tool of a connected plugin and print what it streams; text runs on one line. A "
        "required parameter the tool declares is asked for before anything is invoked. Exit status 1 when "
        "the tool fails.",
    )
    tool.add_argument("provider", help="the tool provider's name (identity.name in its provider YAML)")
    tool.add_argument("name", help="the tool's name (identity.name in its tool YAML)")
    tool.add_argument("parameters", nargs="*", metavar="NAME=VALUE", help=f"the tool's parameters: {PARAMETERS_HELP}")
    agent = kinds.add_parser(
        "agent",
        help="invoke an agent strategy: PROVIDER STRATEGY NAME=VALUE ...",
        description="Invoke an agent strategy of a connected plugin and print its log and answer. Exit status 1 "
        "when the strategy fails.",
    )
    agent.add_argument("provider", help="the agent strategy provider's name")
    agent.add_argument("name", help="the strategy's name")
    agent.add_argument(
        "parameters", nargs="*", metavar="NAME=VALUE", help=f"the strategy's parameters: {PARAMETERS_HELP}"
    )
    add_invoke_kinds(kinds)
    for kind in kinds.choices.values():
        add_invoke_options(kind, after_kind=True)
    invoke.set_defaults(run=runner(run_tool_or_agent))


def add_invoke_kinds(kinds: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds model, datasource, trigger and endpoint to `dify-mock invoke`."""
    model = kinds.add_parser(
        "model",
        help="a model action: PROVIDER MODEL ACTION name=value ... (ACTION: invoke, num_tokens, poll, multimodal, "
        "voices, schema, validate; MODEL '-' with validate checks the provider's credentials)",
    )
    model.add_argument("provider", help="the model provider's name (provider in its YAML)")
    model.add_argument("model", help="the model's name; '-' with validate")
    model.add_argument("action", help="invoke, num_tokens, poll, multimodal, voices, schema or validate")
    model.add_argument("parameters", nargs="*", metavar="NAME=VALUE", help=f"the call's parameters: {PARAMETERS_HELP}")
    model.add_argument("--model-type", help="llm, text-embedding, ...; found from the plugin's declaration if left out")
    model.add_argument("--output", type=Path, help="tts: write the audio to this file")
    model.set_defaults(run=runner(run_model))

    datasource = kinds.add_parser(
        "datasource",
        help="a datasource action: PROVIDER DATASOURCE ACTION name=value ... "
        f"(ACTION: {', '.join(DATASOURCE_ACTIONS)}; DATASOURCE '-' with validate)",
    )
    datasource.add_argument("provider", help="the datasource provider's name")
    datasource.add_argument("datasource", help="the datasource's name; '-' with validate")
    datasource.add_argument("action", choices=list(DATASOURCE_ACTIONS), help="what to do")
    datasource.add_argument(
        "parameters", nargs="*", metavar="NAME=VALUE", help=f"the call's parameters: {PARAMETERS_HELP}"
    )
    datasource.set_defaults(run=runner(run_datasource))

    trigger = kinds.add_parser(
        "trigger",
        help=f"a trigger action: PROVIDER ACTION [EVENT] name=value ... (ACTION: {', '.join(TRIGGER_ACTIONS)})",
    )
    trigger.add_argument("provider", help="the trigger provider's name")
    trigger.add_argument("action", choices=list(TRIGGER_ACTIONS), help="what to do")
    trigger.add_argument(
        "parameters", nargs="*", metavar="[EVENT] NAME=VALUE", help=f"the event (for event), then {PARAMETERS_HELP}"
    )
    add_request_options(trigger, "the webhook request for dispatch and event", "POST")
    trigger.add_argument("--path", default="/", help="the webhook request's path (default /)")
    trigger.set_defaults(run=runner(run_trigger))

    endpoint = kinds.add_parser("endpoint", help="an HTTP request to a hook: HOOK_ID_OR_NAME PATH")
    endpoint.add_argument("hook", help="the hook's id or name (dify-mock endpoints lists them)")
    endpoint.add_argument("path", nargs="?", default="/", help="the request's path under the hook (default /)")
    add_request_options(endpoint, "the request", "GET")
    endpoint.add_argument("-i", "--include", action="store_true", help="print the status line and headers first")
    endpoint.set_defaults(run=runner(run_endpoint))


def _model_type(client: httpx.Client, tenant: str, plugin: str, provider: str, model: str) -> str:
    plugins = envelope(client.get(f"/plugin/{tenant}/management/list"))
    for entry in plugins:
        if entry["plugin_id"] != plugin:
            continue
        for declared in entry["declaration"].get("models") or []:
            if declared.get("provider") == provider:
                for known in declared.get("models") or []:
                    if known.get("model") == model:
                        return str(known["model_type"])
    raise UsageError(f"model {model!r} is not among the predefined models of {provider!r}; give --model-type")


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
        parameters["file"] = read_file(audio_file).hex()
    credentials = parameters_of(arguments.credential)
    plugin = find_plugin(client, arguments.tenant, "models", arguments.provider, arguments.plugin)
    if arguments.model == "-":
        if arguments.action != "validate":
            raise UsageError("MODEL '-' is only for `validate` (the provider's credentials)")
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
        raise UsageError(f"a {model_type} model has no action {arguments.action!r}; use one of: {', '.join(actions)}")
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


def _webhook(arguments: argparse.Namespace) -> str:
    """The hex of the raw request the webhook caller would send, written as the daemon writes requests."""
    body = b""
    if arguments.data is not None:
        body = read_file(arguments.data[1:]) if arguments.data.startswith("@") else arguments.data.encode()
    headers = []
    for header in arguments.header:
        name, separator, value = header.partition(":")
        if not separator or not name.strip():
            raise UsageError(f"--header {header!r} should be NAME:VALUE")
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
            raise UsageError("`event` needs the event's name: PROVIDER event EVENT name=value ...")
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


def run_tool_or_agent(arguments: argparse.Namespace, client: httpx.Client) -> int:
    """`dify-mock invoke tool|agent PROVIDER NAME name=value ...`: text streams on one line, errors as `error: ...`."""
    category = "tools" if arguments.kind == "tool" else "agent_strategies"
    parameters = parse_parameters(arguments.parameters)
    plugin = find_plugin(client, arguments.tenant, category, arguments.provider, arguments.plugin)
    declared = declared_parameters(client, arguments.tenant, plugin, category, arguments.provider, arguments.name)
    if declared is not None:
        check_required(declared, parameters, f"{arguments.kind} {arguments.provider}/{arguments.name}")
    if arguments.kind == "tool":
        route = "tool/invoke"
        data: dict[str, Any] = {
            "provider": arguments.provider,
            "tool": arguments.name,
            "tool_parameters": parameters,
            "credentials": parse_parameters(arguments.credential),
            "credential_type": "api-key",
        }
    else:
        route = "agent_strategy/invoke"
        data = {
            "agent_strategy_provider": arguments.provider,
            "agent_strategy": arguments.name,
            "agent_strategy_params": parameters,
        }
    inline = False
    try:
        for chunk in dispatch(client, arguments, route, plugin, data):
            inline = print_chunk(chunk, arguments.json, inline)
    except PluginFailed as error:
        if inline:
            print()
        print(f"error: {error}", file=sys.stderr)
        return 1
    if inline:
        print()
    return 0
