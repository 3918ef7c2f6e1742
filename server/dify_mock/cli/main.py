"""`dify-mock serve` runs the mock; `dify-mock invoke` drives a connected plugin through it; `dify-mock journal`
prints what happened."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dify_mock.cli.console import describe_error, parse_parameters, print_chunk
from dify_mock.cli.invoke import add_endpoints_parser, add_invoke_kinds
from dify_mock.cli.journal import add_journal_parser
from dify_mock.cli.run import add_run_parser
from dify_mock.cli.serve import add_serve_parser
from dify_mock.config.settings import DEFAULT_TENANT

if TYPE_CHECKING:
    import httpx


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

    add_serve_parser(commands)
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
