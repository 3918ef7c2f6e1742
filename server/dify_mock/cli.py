"""`dify-mock serve` runs the mock; `dify-mock invoke` drives a connected plugin through it; `dify-mock journal`
prints what happened."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dify_mock.answers.rules import FixtureError, RuleBook
from dify_mock.cli_invoke import add_endpoints_parser, add_invoke_kinds
from dify_mock.config import (
    DEFAULT_TENANT,
    ConfigError,
    add_serve_arguments,
    settings_from_arguments,
)
from dify_mock.journal_cli import add_journal_parser
from dify_mock.run_cli import add_run_parser

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("dify_mock")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    arguments = parser.parse_args(argv)
    if not getattr(arguments, "command", None):
        parser.print_help()
        return 2
    try:
        result: int = arguments.run(arguments)
    except BrokenPipeError:  # the output was piped into something that stopped reading, such as `head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dify-mock", description="A local stand-in for Dify that plugins connect to.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the mock: HTTP API and remote-debug TCP")
    add_serve_arguments(serve, os.environ)
    serve.set_defaults(run=run_serve)
    add_run_parser(commands)

    invoke = commands.add_parser("invoke", help="invoke a connected plugin and print what it streams")
    invoke.add_argument("--url", default=os.environ.get("DIFY_MOCK_URL", "http://127.0.0.1:5002"))
    invoke.add_argument("--tenant", default=DEFAULT_TENANT)
    invoke.add_argument("--plugin", help="author/name; found from the provider when left out")
    invoke.add_argument("--server-key", default=os.environ.get("DIFY_MOCK_SERVER_KEY"))
    invoke.add_argument("--user", default="dify-mock-cli")
    invoke.add_argument("--json", action="store_true", help="print every chunk as a JSON line")
    invoke.add_argument(
        "--credential",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="provider credential (repeatable)",
    )
    kinds = invoke.add_subparsers(dest="kind", metavar="KIND", required=True)
    tool = kinds.add_parser("tool", help="invoke a tool: PROVIDER TOOL name=value ... (name:=<json> for non-strings)")
    tool.add_argument("provider")
    tool.add_argument("name")
    tool.add_argument("parameters", nargs="*", metavar="NAME=VALUE")
    agent = kinds.add_parser("agent", help="invoke an agent strategy: PROVIDER STRATEGY name=value ...")
    agent.add_argument("provider")
    agent.add_argument("name")
    agent.add_argument("parameters", nargs="*", metavar="NAME=VALUE")
    add_invoke_kinds(kinds)
    invoke.set_defaults(run=run_invoke)
    add_endpoints_parser(commands)
    add_journal_parser(commands)
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S"
    )


def run_serve(arguments: argparse.Namespace) -> int:
    try:
        settings = settings_from_arguments(arguments)
        rules = RuleBook.load(list(settings.fixtures))
    except (ConfigError, FixtureError) as error:
        print(f"dify-mock: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    from dify_mock.server import serve

    return serve(settings, rules)


def parse_parameters(items: Sequence[str]) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for item in items:
        if ":=" in item:
            name, raw = item.split(":=", 1)
            try:
                parameters[name] = json.loads(raw)
            except ValueError as error:
                raise SystemExit(f"dify-mock: {name}:= needs JSON: {error}") from None
        elif "=" in item:
            name, value = item.split("=", 1)
            parameters[name] = value
        else:
            raise SystemExit(f"dify-mock: parameter {item!r} should be NAME=VALUE or NAME:=JSON")
    return parameters


def find_plugin(client: httpx.Client, tenant: str, kind: str, provider: str) -> str:
    plugins = client.get(f"/plugin/{tenant}/management/list").raise_for_status().json()["data"]
    category = "tools" if kind == "tool" else "agent_strategies"
    for plugin in plugins:
        for declared in plugin["declaration"].get(category, []):
            identity = declared.get("identity") if isinstance(declared, dict) else None
            if isinstance(identity, dict) and identity.get("name") == provider:
                return str(plugin["plugin_id"])
    connected = ", ".join(plugin["plugin_id"] for plugin in plugins) or "no plugin is connected"
    raise SystemExit(f"dify-mock: no connected plugin declares the {kind} provider {provider!r} ({connected})")


def run_invoke(arguments: argparse.Namespace) -> int:
    import httpx

    from dify_mock.testing import parse_sse_events

    headers = {"X-Api-Key": arguments.server_key} if arguments.server_key else {}
    parameters = parse_parameters(arguments.parameters)
    credentials = parse_parameters(arguments.credential)
    with httpx.Client(base_url=arguments.url, headers=headers, timeout=None) as client:
        try:
            plugin = arguments.plugin or find_plugin(client, arguments.tenant, arguments.kind, arguments.provider)
        except httpx.HTTPError as error:
            print(f"dify-mock: cannot reach the mock at {arguments.url}: {error}", file=sys.stderr)
            return 1
        if arguments.kind == "tool":
            route = "tool/invoke"
            data: dict[str, Any] = {
                "provider": arguments.provider,
                "tool": arguments.name,
                "tool_parameters": parameters,
                "credentials": credentials,
                "credential_type": "api-key",
            }
        else:
            route = "agent_strategy/invoke"
            data = {
                "agent_strategy_provider": arguments.provider,
                "agent_strategy": arguments.name,
                "agent_strategy_params": parameters,
            }
        body = {"user_id": arguments.user, "data": data}
        with client.stream(
            "POST", f"/plugin/{arguments.tenant}/dispatch/{route}", json=body, headers={"X-Plugin-ID": plugin}
        ) as response:
            if response.status_code >= 400:
                response.read()
                print(f"dify-mock: {response.status_code}: {describe_error(response.text)}", file=sys.stderr)
                return 1
            buffer = b""
            inline = False
            for piece in response.iter_bytes():
                buffer += piece
                complete, _, buffer = buffer.rpartition(b"\n\n")
                for event in parse_sse_events(complete + b"\n\n"):
                    if event.get("code", 0) != 0:
                        if inline:
                            print()
                        print(f"error: {describe_error(event.get('message', ''))}", file=sys.stderr)
                        return 1
                    inline = print_chunk(event.get("data"), arguments.json, inline)
            if inline:
                print()
    return 0


def describe_error(message: str) -> str:
    """Unwraps the daemon's JSON-in-JSON error messages to the innermost readable text."""
    text: Any = message
    for _ in range(4):
        try:
            parsed = json.loads(text) if isinstance(text, str) else text
        except ValueError:
            break
        if not isinstance(parsed, dict) or "message" not in parsed:
            break
        prefix = f"{parsed['error_type']}: " if parsed.get("error_type") not in (None, "PluginInvokeError") else ""
        text = parsed["message"]
        if not isinstance(text, str) or not text.startswith("{"):
            return f"{prefix}{text}"
    return str(text)


def print_chunk(chunk: Any, as_json: bool, inline: bool) -> bool:
    """Prints one chunk; text pieces run on one line as they stream. Returns whether the line is still open."""
    kind = chunk.get("type") if isinstance(chunk, dict) and not as_json else None
    if kind == "text":
        print(chunk["message"].get("text", ""), end="", flush=True)
        return True
    if inline:
        print()
    if not isinstance(chunk, dict) or as_json:
        print(json.dumps(chunk, ensure_ascii=False))
        return False
    message = chunk.get("message") or {}
    if kind in ("link", "image", "image_link"):
        print(message.get("text", ""))
    elif kind == "json":
        print(json.dumps(message.get("json_object"), ensure_ascii=False, indent=2))
    elif kind == "variable":
        print(f"{message.get('variable_name')} = {json.dumps(message.get('variable_value'), ensure_ascii=False)}")
    elif kind == "blob_chunk":
        if message.get("end"):
            print(f"[blob {message.get('id')}: {message.get('total_length')} bytes]")
    else:
        print(json.dumps(chunk, ensure_ascii=False))
    return False
