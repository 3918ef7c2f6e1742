"""`dify-mock endpoints [list|setup|enable|disable|remove]` and `dify-mock invoke endpoint`: endpoint hooks
and real HTTP requests to them."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

from dify_mock.cli.console import UsageError
from dify_mock.cli.mock_client import add_client_options, envelope, parameters_of, read_file, runner, show


def add_endpoints_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser], help_text: str) -> None:
    """`dify-mock endpoints [list|setup|enable|disable|remove]`."""
    endpoints = commands.add_parser("endpoints", help=help_text)
    add_client_options(endpoints)
    actions = endpoints.add_subparsers(
        dest="endpoints_action", metavar="ACTION", help="what to do with the hooks (default list)"
    )
    actions.add_parser("list", help="each hook and its URL (the default)")
    setup = actions.add_parser("setup", help="a new hook: PLUGIN_ID [--name NAME] setting=value ...")
    # REMAINDER: argparse cannot mix --name with positionals after it; _setup_items reads it.
    setup.add_argument(
        "items",
        nargs=argparse.REMAINDER,
        metavar="PLUGIN_ID [--name NAME] [NAME=VALUE ...]",
        help="the plugin (author/name), the hook's name, and its settings (NAME:=JSON for non-strings)",
    )
    for action in ("enable", "disable", "remove"):
        actions.add_parser(action, help=f"{action} a hook: HOOK_ID_OR_NAME").add_argument(
            "hook", help="the hook's id or name (dify-mock endpoints lists them)"
        )
    endpoints.set_defaults(run=runner(run_endpoints))


def _hooks(client: httpx.Client, tenant: str) -> list[dict[str, Any]]:
    hooks: list[dict[str, Any]] = envelope(
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
        raise UsageError(
            f"{len(found)} hooks are named {wanted!r}; give the hook id ({', '.join(h['hook_id'] for h in found)})"
        )
    known = (
        ", ".join(f"{hook['name']} ({hook['hook_id']})" for hook in hooks)
        or "none; make one with `dify-mock endpoints setup`"
    )
    raise UsageError(f"no hook {wanted!r} for tenant {tenant} (hooks: {known})")


def run_endpoint(arguments: argparse.Namespace, client: httpx.Client) -> int:
    hook = _find_hook(client, arguments.tenant, arguments.hook)
    body = None
    if arguments.data is not None:
        body = read_file(arguments.data[1:]) if arguments.data.startswith("@") else arguments.data.encode()
    headers = {}
    for header in arguments.header:
        name, separator, value = header.partition(":")
        if not separator:
            raise UsageError(f"--header {header!r} should be NAME:VALUE")
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
                envelope(response)  # the daemon's own error, not the plugin's answer: raises its readable message
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
        raise UsageError(
            "setup needs the plugin: dify-mock endpoints setup PLUGIN_ID [--name NAME] [setting=value ...]"
        )
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
        envelope(client.post(f"/plugin/{tenant}/endpoint/setup", json=body))
        hook = [h for h in _hooks(client, tenant) if h["plugin_id"] == plugin_id.split(":")[0]][-1]
        print(hook["url"])
        return 0
    if action in ("enable", "disable", "remove"):
        hook = _find_hook(client, tenant, arguments.hook)
        envelope(client.post(f"/plugin/{tenant}/endpoint/{action}", json={"endpoint_id": hook["id"]}))
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
